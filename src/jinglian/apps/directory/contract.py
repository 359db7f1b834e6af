# mypy: allow-untyped-defs, allow-untyped-calls
# (A contract is untyped: the sandbox forbids importing typing. The comment is not code.)
"""The directory chain (目录区块链): duties, catalogs and data items of each department, and
the sharing workflow between departments.

This module is the contract's source: ``deploy_directory_contract`` reads this
file's text and deploys it, so it uses nothing but the contract SDK. The full
reference (fields, bounds, keys, errors, gas) is ``docs/apps/directory.md``.

A department is the sender's organisation (``ctx.sender.org``): every write
lands in the sender's own department, so no department can change another's
entries. (``id`` and ``format`` are names the sandbox refuses, hence ``duty_id``,
``division_id`` and ``data_format``.) Directory writes need an ``admin``; requests, decisions, deliveries
and confirmations an ``admin`` or a ``client``.

Directory (each change is a new version of the entry, appended to the
department's log and folded into its head hash)::

    put_duty(duty_id, name, legal_basis)
    retire_duty(duty_id)                       refused while active catalogs hang from it
    put_catalog(code, name, summary, duties, share_type, share_condition, share_mode,
                data_format, update_cycle, open_attribute, release_date, related=None)
    retire_catalog(code)
    put_items(catalog, items)                  1..ITEMS_BATCH_MAX items {code, name,
                                               data_type, sensitivity, standard}
    retire_items(catalog, codes)
    put_division(division_id, name)
    retire_division(division_id)

Sharing::

    request(provider, catalog, items, duty, purpose, period_days, division=None)
                                 made in the sender's certificate division when it has one
    approve(request_id)          reject(request_id, reason)
    revoke_grant(grant_id, reason)
    deliver(grant_id, request_hash, response_hash, size)
    confirm(delivery_id, payload_hash)
    set_settings(reply_deadline_ms=None, period_days_max=None)   admins of a majority of
                                                                 member organisations

Events (each addressed by ``orgs`` to the departments concerned): ``changed``
``{orgs, kind, action, key, seq, head, entry}`` for each directory change
(``entry``: the new version; absent for items batches, which go out first as
``items`` ``{orgs, catalog, action, items}`` events of at most ITEMS_PER_EVENT
entries); ``requested``, ``granted``, ``rejected``, ``revoked``,
``delivered``, ``confirmed`` and ``settings`` with the fields an index needs
to follow the workflow without reading state (``docs/apps/directory.md``).

Queries: ``duty``, ``catalog``, ``item``, ``items``, ``catalogs``, ``division``,
``divisions``, ``head``, ``log``, ``settings``, ``get_request``, ``get_grant``,
``get_delivery``, ``deliveries``, ``requests_to``, ``requests_from``.

Head hash: ``canon`` is an unambiguous text encoding of a value (``n``, ``t``,
``f``, ``i<int>;``, ``s<utf-8 length>:<text>``, ``l...e``, ``d<key><value>...e``
with keys sorted). An entry's hash is ``H(canon(entry))`` (for an items batch,
of the list of item entries written); each change appends
``log:<org>:<seq>`` and sets ``head = H(bytes(previous head) ||
canon([org, seq, kind, action, key, hash]))``, starting from the empty head.
"""

from jinglian.contract import invoke, query

ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
DIGITS = "0123456789"
HEX_DIGITS = "0123456789abcdef"
ID_CHARS_MAX = 64
NAME_CHARS_MAX = 128
LEGAL_BASIS_CHARS_MAX = 500
SUMMARY_CHARS_MAX = 1000
CONDITION_CHARS_MAX = 500
FORMAT_CHARS_MAX = 32
STANDARD_CHARS_MAX = 128
PURPOSE_CHARS_MAX = 500
REASON_CHARS_MAX = 500
DUTIES_MAX = 16
RELATED_MAX = 16
ITEMS_BATCH_MAX = 200
ITEMS_PER_CATALOG_MAX = 1000
ITEMS_PER_REQUEST_MAX = 200
ITEMS_PER_EVENT = 12
LIST_LIMIT_MAX = 100
SCAN_MAX = 1000
SIZE_MAX = 4611686018427387904
HASH_BYTES = 32
DAY_MS = 86400000
CODE_CHARS = 13
SEQ_DIGITS = 12
SHARE_TYPES = ("unconditional", "conditional", "not_shared")
SHARE_MODES = ("file", "api", "query")
UPDATE_CYCLES = (
    "realtime",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "half_yearly",
    "yearly",
    "irregular",
)
OPEN_ATTRIBUTES = ("open", "conditional_open", "not_open")
DATA_TYPES = ("string", "integer", "decimal", "boolean", "date", "datetime", "binary")
SENSITIVITIES = ("public", "internal", "sensitive", "restricted")
ITEM_FIELDS = ("code", "name", "data_type", "sensitivity", "standard")
DIRECTORY_ROLES = ("admin",)
SHARING_ROLES = ("admin", "client")
REPLY_DEADLINE_MS_DEFAULT = 259200000
REPLY_DEADLINE_MS_MIN = 60000
REPLY_DEADLINE_MS_MAX = 7776000000
PERIOD_DAYS_MAX_DEFAULT = 365
PERIOD_DAYS_MAX_LIMIT = 3650
MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


# -- values and checks ------------------------------------------------------------------------


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def padded(number):
    return str(number).zfill(SEQ_DIGITS)


def check_role(ctx, roles, what):
    if ctx.sender.role not in roles:
        ctx.fail(
            f"{what} needs the role {' or '.join(roles)} in {ctx.sender.org}, "
            f"not {ctx.sender.role!r}"
        )


def is_id(value):
    """Whether ``value`` is an id: 1 to ID_CHARS_MAX letters, digits, '_', '.' or '-'.

    (``strip(ID_CHARS)`` leaves nothing exactly when every character is one of
    them: one scan instead of a comparison per character.)
    """
    return isinstance(value, str) and 0 < len(value) <= ID_CHARS_MAX and not value.strip(ID_CHARS)


def check_id(ctx, field, value):
    if is_id(value):
        return
    if not isinstance(value, str):
        ctx.fail(f"{field} must be a str")
    if not 0 < len(value) <= ID_CHARS_MAX:
        ctx.fail(f"{field} must be 1 to {ID_CHARS_MAX} characters, not {len(value)}")
    ctx.fail(f"{field} may hold only letters, digits, '_', '.' and '-': {value!r}")


def is_text(value, chars_max, required):
    """Whether ``value`` is text of at most ``chars_max`` characters (not blank if required)."""
    return (
        isinstance(value, str) and len(value) <= chars_max and not (required and not value.strip())
    )


def check_text(ctx, field, value, chars_max, required):
    if is_text(value, chars_max, required):
        return
    if not isinstance(value, str):
        ctx.fail(f"{field} must be a str")
    if len(value) > chars_max:
        ctx.fail(f"{field} is {len(value)} characters, over {chars_max}")
    ctx.fail(f"{field} must not be empty")


def check_choice(ctx, field, value, choices):
    if not isinstance(value, str) or value not in choices:
        ctx.fail(f"{field} must be one of {', '.join(choices)}, not {value!r}")


def all_digits(text):
    return not text.strip(DIGITS)


def is_catalog_code(code):
    if not isinstance(code, str) or len(code) != CODE_CHARS or code[6] != "/":
        return False
    if not all_digits(code[:6]) or not all_digits(code[7:]):
        return False
    if code[0] not in "123" or code[1:3] == "00" or code[3:6] == "000":
        return False
    return code[7:] != "000000"


def check_code(ctx, field, code):
    if not is_catalog_code(code):
        ctx.fail(
            f"{field} must be a catalog code CIISSS/NNNNNN (class 1-3, item 01-99, "
            f"sub-item 001-999, sequence 000001-999999), not {code!r}"
        )


def check_date(ctx, field, value):
    shaped = isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-"
    if not shaped or not all_digits(value[:4] + value[5:7] + value[8:]):
        ctx.fail(f"{field} must be a date YYYY-MM-DD, not {value!r}")
    year = int(value[:4])
    month = int(value[5:7])
    day = int(value[8:])
    if year < 1900 or not 1 <= month <= 12:
        ctx.fail(f"{field} is not a valid date: {value!r}")
    days = MONTH_DAYS[month - 1]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        days = 29
    if not 1 <= day <= days:
        ctx.fail(f"{field} is not a valid date: {value!r}")


def check_id_list(ctx, field, values, count_max):
    if not isinstance(values, list):
        ctx.fail(f"{field} must be a list")
    if not 0 < len(values) <= count_max:
        ctx.fail(f"{field} must hold 1 to {count_max} entries, not {len(values)}")
    seen = {}
    for index, value in enumerate(values):
        check_id(ctx, f"{field}[{index}]", value)
        if value in seen:
            ctx.fail(f"{field}[{index}] repeats {value!r}")
        seen[value] = True


def check_related(ctx, related):
    if not isinstance(related, list):
        ctx.fail("related must be a list")
    if len(related) > RELATED_MAX:
        ctx.fail(f"related must hold at most {RELATED_MAX} entries, not {len(related)}")
    for index, ref in enumerate(related):
        field = f"related[{index}]"
        if not isinstance(ref, str) or ":" not in ref:
            ctx.fail(f"{field} must be '<org>:<catalog code>', not {ref!r}")
        parts = ref.split(":")
        if len(parts) != 2:
            ctx.fail(f"{field} must be '<org>:<catalog code>', not {ref!r}")
        check_id(ctx, f"{field} organisation", parts[0])
        check_code(ctx, f"{field} code", parts[1])


def check_limit(ctx, start, limit):
    if not is_int(start) or start < 0:
        ctx.fail("start must be an integer of 0 or more")
    if not is_int(limit) or not 0 < limit <= LIST_LIMIT_MAX:
        ctx.fail(f"limit must be an integer from 1 to {LIST_LIMIT_MAX}")


def check_record_id(ctx, field, value):
    if not is_int(value) or value < 1:
        ctx.fail(f"{field} must be a positive integer, not {value!r}")


def hash_hex(ctx, field, value):
    """A 32-byte hash given as bytes or 64 hex characters, as lower-case hex."""
    if isinstance(value, str) and len(value) == 2 * HASH_BYTES:
        text = value.lower()
        if not text.strip(HEX_DIGITS):
            return text
    if isinstance(value, bytes) and len(value) == HASH_BYTES:
        return value.hex()
    ctx.fail(f"{field} must be {HASH_BYTES} bytes or {2 * HASH_BYTES} hex characters")


# -- head hash chain --------------------------------------------------------------------------


def canon(value):
    """The unambiguous text of a value that entry hashes and head hashes are taken over.

    Built as one list of parts joined once: each string, int and container
    appends its pieces, and the scalars of lists and maps (nearly every value
    of an entry) are written in place rather than by a call each, which is
    most of what a ``put_items`` costs.
    """
    return "".join(canon_into([], value))


def canon_into(parts, value):
    """Append the parts of ``canon(value)`` to ``parts``; return ``parts``."""
    add = parts.append
    if isinstance(value, str):
        add(f"s{len(value.encode('utf-8'))}:{value}")
    elif value is None:
        add("n")
    elif value is True:
        add("t")
    elif value is False:
        add("f")
    elif isinstance(value, int):
        add(f"i{value};")
    elif isinstance(value, list):
        add("l")
        for item in value:
            if isinstance(item, str):
                add(f"s{len(item.encode('utf-8'))}:{item}")
            else:
                canon_into(parts, item)
        add("e")
    else:
        add("d")
        for key in sorted(value):
            if isinstance(key, str):
                add(f"s{len(key.encode('utf-8'))}:{key}")
            else:
                canon_into(parts, key)
            item = value[key]
            if isinstance(item, str):
                add(f"s{len(item.encode('utf-8'))}:{item}")
            else:
                canon_into(parts, item)
        add("e")
    return parts


def empty_head(org):
    return {"org": org, "seq": 0, "head": "", "height": 0, "time": 0}


def record_change(ctx, kind, action, key, entry, announce=True, text=None):
    """Append one change to the sender's department log and advance its head.

    The ``changed`` event carries the new entry when ``announce`` (every kind
    but items, whose batches go out in ``items`` events first), so an index
    can follow the directory from events alone. ``text``, when given, is
    ``canon(entry)`` already built by the caller.
    """
    org = ctx.sender.org
    entry_hash = ctx.hash(canon(entry) if text is None else text).hex()
    current = ctx.state.get(f"head:{org}") or empty_head(org)
    seq = current["seq"] + 1
    change = canon([org, seq, kind, action, key, entry_hash])
    head = ctx.hash(bytes.fromhex(current["head"]) + change.encode("utf-8")).hex()
    ctx.state.set(
        f"log:{org}:{padded(seq)}",
        {
            "org": org,
            "seq": seq,
            "kind": kind,
            "action": action,
            "key": key,
            "hash": entry_hash,
            "prev": current["head"],
            "head": head,
            "height": ctx.block_height,
            "time": ctx.block_time,
            "tx_id": ctx.tx_id,
        },
    )
    ctx.state.set(
        f"head:{org}",
        {"org": org, "seq": seq, "head": head, "height": ctx.block_height, "time": ctx.block_time},
    )
    announced = {"orgs": [org], "kind": kind, "action": action, "key": key, "seq": seq}
    announced["head"] = head
    if announce:
        announced["entry"] = entry
    ctx.emit("changed", announced)
    return {"org": org, "seq": seq, "head": head, "hash": entry_hash}


def stamp(ctx, entry, old):
    entry["status"] = "active"
    entry["version"] = 1 if old is None else old["version"] + 1
    entry["height"] = ctx.block_height
    entry["time"] = ctx.block_time
    entry["tx_id"] = ctx.tx_id
    return entry


def restamp(ctx, old, status):
    entry = dict(old)
    entry["status"] = status
    entry["version"] = old["version"] + 1
    entry["height"] = ctx.block_height
    entry["time"] = ctx.block_time
    entry["tx_id"] = ctx.tx_id
    return entry


def count_key_add(ctx, key, delta):
    count = (ctx.state.get(key) or 0) + delta
    if count:
        ctx.state.set(key, count)
    else:
        ctx.state.delete(key)


def save_entry(ctx, kind, action, key, entry):
    """Store a new version of a directory entry and log the change: what the put and retire
    methods return (``record_change``'s answer with the entry's ``version``)."""
    ctx.state.set(key, entry)
    done = record_change(ctx, kind, action, key, entry)
    done["version"] = entry["version"]
    return done


def put_entry(ctx, kind, key, fields):
    """Publish ``fields`` as the next version of the entry at ``key`` (active; a retired entry
    is revived)."""
    return save_entry(ctx, kind, "put", key, stamp(ctx, fields, ctx.state.get(key)))


def active_entry(ctx, key, refusal):
    """The entry at ``key`` if it is active; else the call fails with ``refusal``."""
    found = ctx.state.get(key)
    if found is None or found["status"] != "active":
        ctx.fail(refusal)
    return found


def retire_entry(ctx, kind, key, old):
    """Retire the active entry ``old`` stored at ``key`` (a new version)."""
    return save_entry(ctx, kind, "retire", key, restamp(ctx, old, "retired"))


# -- directory: duties ------------------------------------------------------------------------


@invoke
def put_duty(ctx, duty_id, name, legal_basis):
    """Publish or update a duty of the sender's department (a root of its directory)."""
    check_role(ctx, DIRECTORY_ROLES, "put_duty")
    check_id(ctx, "duty_id", duty_id)
    check_text(ctx, "name", name, NAME_CHARS_MAX, True)
    check_text(ctx, "legal_basis", legal_basis, LEGAL_BASIS_CHARS_MAX, True)
    org = ctx.sender.org
    fields = {"org": org, "id": duty_id, "name": name, "legal_basis": legal_basis}
    return put_entry(ctx, "duty", f"duty:{org}:{duty_id}", fields)


@invoke
def retire_duty(ctx, duty_id):
    """Retire a duty; refused while an active catalog hangs from it."""
    check_role(ctx, DIRECTORY_ROLES, "retire_duty")
    check_id(ctx, "duty_id", duty_id)
    org = ctx.sender.org
    key = f"duty:{org}:{duty_id}"
    old = active_entry(ctx, key, f"{org} has no active duty {duty_id!r}")
    used = ctx.state.get(f"dutyuse:{org}:{duty_id}") or 0
    if used:
        ctx.fail(f"duty {duty_id!r} still has {used} active catalogs: retire or re-hang them first")
    return retire_entry(ctx, "duty", key, old)


# -- directory: catalogs ----------------------------------------------------------------------


def check_catalog_duties(ctx, duties):
    check_id_list(ctx, "duties", duties, DUTIES_MAX)
    org = ctx.sender.org
    for index, duty in enumerate(duties):
        found = ctx.state.get(f"duty:{org}:{duty}")
        if found is None or found["status"] != "active":
            ctx.fail(f"duties[{index}]: {org} has no active duty {duty!r}")


def check_share(ctx, share_type, share_condition, share_mode):
    check_choice(ctx, "share_type", share_type, SHARE_TYPES)
    check_text(ctx, "share_condition", share_condition, CONDITION_CHARS_MAX, False)
    if share_type != "unconditional" and share_condition.strip() == "":
        ctx.fail(f"share_condition must state the condition or the basis for {share_type}")
    check_choice(ctx, "share_mode", share_mode, SHARE_MODES)


def move_duty_use(ctx, old, duties):
    org = ctx.sender.org
    if old is not None and old["status"] == "active":
        for duty in old["duties"]:
            count_key_add(ctx, f"dutyuse:{org}:{duty}", -1)
    for duty in duties:
        count_key_add(ctx, f"dutyuse:{org}:{duty}", 1)


@invoke
def put_catalog(
    ctx,
    code,
    name,
    summary,
    duties,
    share_type,
    share_condition,
    share_mode,
    data_format,
    update_cycle,
    open_attribute,
    release_date,
    related=None,
):
    """Publish or update a data catalog hung from duties of the sender's department."""
    check_role(ctx, DIRECTORY_ROLES, "put_catalog")
    check_code(ctx, "code", code)
    check_text(ctx, "name", name, NAME_CHARS_MAX, True)
    check_text(ctx, "summary", summary, SUMMARY_CHARS_MAX, True)
    check_catalog_duties(ctx, duties)
    check_share(ctx, share_type, share_condition, share_mode)
    check_text(ctx, "data_format", data_format, FORMAT_CHARS_MAX, True)
    check_choice(ctx, "update_cycle", update_cycle, UPDATE_CYCLES)
    check_choice(ctx, "open_attribute", open_attribute, OPEN_ATTRIBUTES)
    check_date(ctx, "release_date", release_date)
    if related is None:
        related = []
    check_related(ctx, related)
    org = ctx.sender.org
    key = f"cat:{org}:{code}"
    old = ctx.state.get(key)
    move_duty_use(ctx, old, duties)
    fields = {
        "org": org,
        "code": code,
        "name": name,
        "summary": summary,
        "duties": duties,
        "share_type": share_type,
        "share_condition": share_condition,
        "share_mode": share_mode,
        "format": data_format,
        "update_cycle": update_cycle,
        "open_attribute": open_attribute,
        "release_date": release_date,
        "related": related,
    }
    if old is None:
        number = ctx.state.get(f"ncat:{org}") or 0
        ctx.state.set(f"catn:{org}:{padded(number)}", code)
        ctx.state.set(f"ncat:{org}", number + 1)
    return save_entry(ctx, "catalog", "put", key, stamp(ctx, fields, old))


@invoke
def retire_catalog(ctx, code):
    """Retire a catalog: no new requests; its items stay readable."""
    check_role(ctx, DIRECTORY_ROLES, "retire_catalog")
    check_code(ctx, "code", code)
    org = ctx.sender.org
    key = f"cat:{org}:{code}"
    old = active_entry(ctx, key, f"{org} has no active catalog {code!r}")
    for duty in old["duties"]:
        count_key_add(ctx, f"dutyuse:{org}:{duty}", -1)
    return retire_entry(ctx, "catalog", key, old)


def own_active_catalog(ctx, catalog):
    check_code(ctx, "catalog", catalog)
    org = ctx.sender.org
    return active_entry(ctx, f"cat:{org}:{catalog}", f"{org} has no active catalog {catalog!r}")


# -- directory: data items --------------------------------------------------------------------


def check_item(ctx, index, item):
    """``items[index]`` of a ``put_items`` batch, checked: ``[code, name, data_type,
    sensitivity, standard]``.

    The usual item (the known fields, all well formed) costs one test per field;
    the field names of the messages are only built once a test has failed.
    """
    if not isinstance(item, dict):
        ctx.fail(f"items[{index}] must be a map")
    code = item.get("code")
    name = item.get("name")
    data_type = item.get("data_type")
    sensitivity = item.get("sensitivity")
    standard = item.get("standard", "")
    # The four required fields present and nothing else (standard aside): no unknown field.
    known = 5 if "standard" in item else 4
    if len(item) != known or None in [code, name, data_type, sensitivity]:
        check_item_fields(ctx, index, item)
    if not is_id(code):
        check_id(ctx, f"items[{index}].code", code)
    if not is_text(name, NAME_CHARS_MAX, True):
        check_text(ctx, f"items[{index}].name", name, NAME_CHARS_MAX, True)
    if data_type not in DATA_TYPES:
        check_choice(ctx, f"items[{index}].data_type", data_type, DATA_TYPES)
    if sensitivity not in SENSITIVITIES:
        check_choice(ctx, f"items[{index}].sensitivity", sensitivity, SENSITIVITIES)
    if not is_text(standard, STANDARD_CHARS_MAX, False):
        check_text(ctx, f"items[{index}].standard", standard, STANDARD_CHARS_MAX, False)
    return [code, name, data_type, sensitivity, standard]


def check_item_fields(ctx, index, item):
    """Refuse the first unknown field of ``items[index]`` (in name order)."""
    for name in sorted([str(name) for name in item]):
        if name not in ITEM_FIELDS:
            ctx.fail(f"items[{index}].{name} is not a known field")


def item_event(entry):
    """An item entry as an ``items`` event carries it."""
    return {
        "code": entry["code"],
        "name": entry["name"],
        "data_type": entry["data_type"],
        "sensitivity": entry["sensitivity"],
        "standard": entry["standard"],
        "status": entry["status"],
        "version": entry["version"],
    }


def announce_items(ctx, catalog, action, announced):
    """Emit ``items`` events of at most ITEMS_PER_EVENT entries each (events are bounded)."""
    org = ctx.sender.org
    for first in range(0, len(announced), ITEMS_PER_EVENT):
        chunk = announced[first : first + ITEMS_PER_EVENT]
        ctx.emit("items", {"orgs": [org], "catalog": catalog, "action": action, "items": chunk})


def canon_text(text):
    """``canon`` of a str."""
    return f"s{len(text.encode('utf-8'))}:{text}"


@invoke
def put_items(ctx, catalog, items):
    """Publish or update 1..ITEMS_BATCH_MAX data items of one of the department's catalogs.

    The batch's hash is ``H(canon(entries written))``; ``canon`` of each entry
    is written out here field by field in ``canon``'s key order (every entry of
    a batch has the same twelve fields, six of them the same for all), which
    costs a fraction of walking the entries (tests/apps/directory checks that
    both give the same text).
    """
    check_role(ctx, DIRECTORY_ROLES, "put_items")
    own_active_catalog(ctx, catalog)
    if not isinstance(items, list):
        ctx.fail("items must be a list of item maps")
    if not 0 < len(items) <= ITEMS_BATCH_MAX:
        ctx.fail(f"items must hold 1 to {ITEMS_BATCH_MAX} entries, not {len(items)}")
    checked = []
    seen = {}
    for index, item in enumerate(items):
        fields = check_item(ctx, index, item)
        if fields[0] in seen:
            ctx.fail(f"items[{index}].code repeats {fields[0]!r}")
        seen[fields[0]] = True
        checked.append(fields)
    org = ctx.sender.org
    height = ctx.block_height
    time = ctx.block_time
    tx_id = ctx.tx_id
    prefix = f"item:{org}:{catalog}:"
    # canon(entry) = "d" + canon(key) + canon(value) ... + "e", keys in sorted order:
    # catalog code data_type height name org sensitivity standard status time tx_id version
    before_code = f"ds7:catalog{canon_text(catalog)}s4:code"
    before_name = f"s6:heighti{height};s4:name"
    before_sensitivity = f"s3:org{canon_text(org)}s11:sensitivity"
    before_version = f"s6:statuss6:actives4:timei{time};s5:tx_id{canon_text(tx_id)}s7:versioni"
    written = []
    announced = []
    texts = []
    added = 0
    for code, name, data_type, sensitivity, standard in checked:
        key = prefix + code
        old = ctx.state.get(key)
        if old is None:
            added += 1
            version = 1
        else:
            version = old["version"] + 1
        entry = {
            "org": org,
            "catalog": catalog,
            "code": code,
            "name": name,
            "data_type": data_type,
            "sensitivity": sensitivity,
            "standard": standard,
            "status": "active",
            "version": version,
            "height": height,
            "time": time,
            "tx_id": tx_id,
        }
        ctx.state.set(key, entry)
        written.append(entry)
        announced.append(
            {
                "code": code,
                "name": name,
                "data_type": data_type,
                "sensitivity": sensitivity,
                "standard": standard,
                "status": "active",
                "version": version,
            }
        )
        texts.append(
            f"{before_code}{canon_text(code)}s9:data_type{canon_text(data_type)}{before_name}"
            f"{canon_text(name)}{before_sensitivity}{canon_text(sensitivity)}s8:standard"
            f"{canon_text(standard)}{before_version}{version};e"
        )
    count_key = f"nitem:{org}:{catalog}"
    count = (ctx.state.get(count_key) or 0) + added
    if count > ITEMS_PER_CATALOG_MAX:
        ctx.fail(f"catalog {catalog} would hold {count} items, over {ITEMS_PER_CATALOG_MAX}")
    if added:
        ctx.state.set(count_key, count)
    announce_items(ctx, catalog, "put", announced)
    text = "l" + "".join(texts) + "e"
    done = record_change(ctx, "items", "put", f"cat:{org}:{catalog}", written, False, text)
    done["count"] = len(written)
    return done


@invoke
def retire_items(ctx, catalog, codes):
    """Retire data items of one of the department's catalogs: they can no longer be requested."""
    check_role(ctx, DIRECTORY_ROLES, "retire_items")
    own_active_catalog(ctx, catalog)
    check_id_list(ctx, "codes", codes, ITEMS_BATCH_MAX)
    org = ctx.sender.org
    written = []
    for index, code in enumerate(codes):
        key = f"item:{org}:{catalog}:{code}"
        refusal = f"codes[{index}]: catalog {catalog} has no active item {code!r}"
        entry = restamp(ctx, active_entry(ctx, key, refusal), "retired")
        ctx.state.set(key, entry)
        written.append(entry)
    announce_items(ctx, catalog, "retire", [item_event(entry) for entry in written])
    done = record_change(ctx, "items", "retire", f"cat:{org}:{catalog}", written, False)
    done["count"] = len(written)
    return done


# -- directory: divisions ---------------------------------------------------------------------


@invoke
def put_division(ctx, division_id, name):
    """Publish or update a division (sub-unit) of the sender's department."""
    check_role(ctx, DIRECTORY_ROLES, "put_division")
    check_id(ctx, "division_id", division_id)
    check_text(ctx, "name", name, NAME_CHARS_MAX, True)
    org = ctx.sender.org
    fields = {"org": org, "id": division_id, "name": name}
    return put_entry(ctx, "division", f"div:{org}:{division_id}", fields)


@invoke
def retire_division(ctx, division_id):
    """Retire a division: it can no longer be named in a request."""
    check_role(ctx, DIRECTORY_ROLES, "retire_division")
    check_id(ctx, "division_id", division_id)
    org = ctx.sender.org
    key = f"div:{org}:{division_id}"
    old = active_entry(ctx, key, f"{org} has no active division {division_id!r}")
    return retire_entry(ctx, "division", key, old)


# -- exchange endpoint ------------------------------------------------------------------------

URL_CHARS_MAX = 200


@invoke
def set_exchange(ctx, url):
    """Publish where the sender's department serves granted data: its exchange service's URL.

    ``url`` is ``https://host:port`` (mutual TLS on member certificates); an
    empty string withdraws it. A change to the department's directory, so it
    is logged and moves its head.
    """
    check_role(ctx, DIRECTORY_ROLES, "set_exchange")
    if not isinstance(url, str) or len(url) > URL_CHARS_MAX:
        ctx.fail(f"url must be text of at most {URL_CHARS_MAX} characters")
    if url and (not url.startswith("https://") or len(url) <= len("https://") or " " in url):
        ctx.fail("url must start with https:// and hold no spaces")
    org = ctx.sender.org
    key = f"exch:{org}"
    old = ctx.state.get(key)
    entry = stamp(ctx, {"org": org, "url": url}, old)
    if not url:
        entry["status"] = "retired"
    return save_entry(ctx, "exchange", "put" if url else "retire", key, entry)


# -- settings ---------------------------------------------------------------------------------


def current_settings(ctx):
    found = ctx.state.get("settings")
    if found is not None:
        return found
    return {
        "reply_deadline_ms": REPLY_DEADLINE_MS_DEFAULT,
        "period_days_max": PERIOD_DAYS_MAX_DEFAULT,
        "version": 0,
    }


def check_majority_of_admins(ctx):
    members = [org["id"] for org in ctx.call("chain_config", "orgs")]
    endorsing = {}
    for signer in ctx.endorsers:
        if signer.role == "admin" and signer.org in members:
            endorsing[signer.org] = True
    needed = len(members) // 2 + 1
    if len(endorsing) < needed:
        ctx.fail(
            f"set_settings needs admins of {needed} of the {len(members)} member organisations, "
            f"endorsed by {len(endorsing)}"
        )


@invoke
def set_settings(ctx, reply_deadline_ms=None, period_days_max=None):
    """Change the sharing settings; needs admin endorsements of a majority of members."""
    check_role(ctx, DIRECTORY_ROLES, "set_settings")
    check_majority_of_admins(ctx)
    if reply_deadline_ms is None and period_days_max is None:
        ctx.fail("set_settings needs reply_deadline_ms or period_days_max")
    settings = dict(current_settings(ctx))
    if reply_deadline_ms is not None:
        if (
            not is_int(reply_deadline_ms)
            or not REPLY_DEADLINE_MS_MIN <= reply_deadline_ms <= REPLY_DEADLINE_MS_MAX
        ):
            ctx.fail(
                f"reply_deadline_ms must be an integer from {REPLY_DEADLINE_MS_MIN} "
                f"to {REPLY_DEADLINE_MS_MAX}"
            )
        settings["reply_deadline_ms"] = reply_deadline_ms
    if period_days_max is not None:
        if not is_int(period_days_max) or not 0 < period_days_max <= PERIOD_DAYS_MAX_LIMIT:
            ctx.fail(f"period_days_max must be an integer from 1 to {PERIOD_DAYS_MAX_LIMIT}")
        settings["period_days_max"] = period_days_max
    settings["version"] = settings["version"] + 1
    ctx.state.set("settings", settings)
    ctx.emit("settings", {"orgs": [], "version": settings["version"]})
    return settings


# -- sharing ----------------------------------------------------------------------------------


def load(ctx, kind, number, what):
    check_record_id(ctx, what, number)
    found = ctx.state.get(f"{kind}:{padded(number)}")
    if found is None:
        ctx.fail(f"there is no {kind_name(kind)} {number}")
    return found


def kind_name(kind):
    if kind == "req":
        return "request"
    if kind == "dlv":
        return "delivery"
    return kind


def next_id(ctx, counter):
    number = (ctx.state.get(counter) or 0) + 1
    ctx.state.set(counter, number)
    return number


def append_index(ctx, name, org, number):
    count = ctx.state.get(f"n{name}:{org}") or 0
    ctx.state.set(f"{name}:{org}:{padded(count)}", number)
    ctx.state.set(f"n{name}:{org}", count + 1)


def request_view(ctx, found):
    view = dict(found)
    if view["status"] == "pending" and ctx.block_time > view["deadline"]:
        view["status"] = "expired"
    return view


def grant_view(ctx, found):
    view = dict(found)
    if view["status"] == "active" and ctx.block_time >= view["end"]:
        view["status"] = "expired"
    return view


def check_requested_items(ctx, provider, catalog, items):
    check_id_list(ctx, "items", items, ITEMS_PER_REQUEST_MAX)
    for index, code in enumerate(items):
        found = ctx.state.get(f"item:{provider}:{catalog}:{code}")
        if found is None or found["status"] != "active":
            ctx.fail(f"items[{index}]: catalog {provider}:{catalog} has no active item {code!r}")


def check_requester(ctx, duty, division):
    """Check the sender's duty and division; return the division the request is made in.

    A certificate that names a division binds its holder to it: the request is
    made in that division, which must be an active division of the sender's
    department, and an explicit ``division`` must be the same one. Without a
    certificate division, ``division`` is optional and only has to be active.
    """
    org = ctx.sender.org
    check_id(ctx, "duty", duty)
    active_entry(ctx, f"duty:{org}:{duty}", f"duty: {org} has no active duty {duty!r}")
    own = ctx.sender.division
    if own:
        if division is not None and division != own:
            ctx.fail(f"division: your certificate is of division {own!r}, not {division!r}")
        refusal = (
            f"division: your certificate's division {own!r} is not an active division of {org}"
        )
        active_entry(ctx, f"div:{org}:{own}", refusal)
        return own
    if division is not None:
        check_id(ctx, "division", division)
        refusal = f"division: {org} has no active division {division!r}"
        active_entry(ctx, f"div:{org}:{division}", refusal)
    return division


def make_grant(ctx, request):
    start = ctx.block_time
    grant = {
        "id": request["id"],
        "request": request["id"],
        "requester": request["requester"],
        "provider": request["provider"],
        "catalog": request["catalog"],
        "items": request["items"],
        "start": start,
        "end": start + request["period_days"] * DAY_MS,
        "status": "active",
        "reason": "",
        "revoked_time": None,
        "height": ctx.block_height,
        "tx_id": ctx.tx_id,
    }
    ctx.state.set(f"grant:{padded(request['id'])}", grant)
    ctx.emit(
        "granted",
        {
            "orgs": [request["requester"], request["provider"]],
            "requester": request["requester"],
            "provider": request["provider"],
            "request": request["id"],
            "grant": request["id"],
            "end": grant["end"],
        },
    )
    return grant


@invoke
def request(ctx, provider, catalog, items, duty, purpose, period_days, division=None):
    """Ask ``provider`` for ``items`` of ``catalog``, justified by one of the sender's duties.

    The request is made in the division of the sender's certificate if it names
    one (see ``check_requester``), else in ``division`` if given.
    """
    check_role(ctx, SHARING_ROLES, "request")
    org = ctx.sender.org
    check_id(ctx, "provider", provider)
    if provider == org:
        ctx.fail(f"provider is the sender's own department {org}: nothing to request")
    check_code(ctx, "catalog", catalog)
    refusal = f"catalog: {provider} has no active catalog {catalog!r}"
    found = active_entry(ctx, f"cat:{provider}:{catalog}", refusal)
    if found["share_type"] == "not_shared":
        ctx.fail(f"catalog {provider}:{catalog} is not shared: {found['share_condition']}")
    check_requested_items(ctx, provider, catalog, items)
    division = check_requester(ctx, duty, division)
    check_text(ctx, "purpose", purpose, PURPOSE_CHARS_MAX, True)
    settings = current_settings(ctx)
    days_max = settings["period_days_max"]
    if not is_int(period_days) or not 0 < period_days <= days_max:
        ctx.fail(f"period_days must be an integer from 1 to {days_max}")
    number = next_id(ctx, "n:req")
    conditional = found["share_type"] == "conditional"
    req = {
        "id": number,
        "requester": org,
        "requester_id": ctx.sender.id,
        "division": division,
        "provider": provider,
        "catalog": catalog,
        "catalog_version": found["version"],
        "items": items,
        "duty": duty,
        "purpose": purpose,
        "period_days": period_days,
        "share_type": found["share_type"],
        "status": "pending" if conditional else "granted",
        "time": ctx.block_time,
        "height": ctx.block_height,
        "tx_id": ctx.tx_id,
        "deadline": ctx.block_time + settings["reply_deadline_ms"] if conditional else None,
        "decided_time": None if conditional else ctx.block_time,
        "decided_by": None,
        "reason": "",
        "grant": None if conditional else number,
    }
    ctx.state.set(f"req:{padded(number)}", req)
    append_index(ctx, "to", provider, number)
    append_index(ctx, "from", org, number)
    ctx.emit(
        "requested",
        {
            "orgs": [org, provider],
            "requester": org,
            "provider": provider,
            "request": number,
            "catalog": catalog,
            "status": req["status"],
            "deadline": req["deadline"],
            "items": items,
            "duty": duty,
            "division": division,
            "purpose": purpose,
            "period_days": period_days,
        },
    )
    if not conditional:
        make_grant(ctx, req)
    return {"id": number, "status": req["status"], "grant": req["grant"]}


def pending_request_of_provider(ctx, request_id, what):
    check_role(ctx, SHARING_ROLES, what)
    found = load(ctx, "req", request_id, "request_id")
    org = ctx.sender.org
    if found["provider"] != org:
        ctx.fail(f"request {request_id} is addressed to {found['provider']}, not to {org}")
    if found["status"] != "pending":
        ctx.fail(f"request {request_id} is {found['status']}, not pending")
    if ctx.block_time > found["deadline"]:
        ctx.fail(f"request {request_id} expired at {found['deadline']}: its reply deadline passed")
    return found


@invoke
def approve(ctx, request_id):
    """Grant a pending conditional request addressed to the sender's department."""
    req = pending_request_of_provider(ctx, request_id, "approve")
    req = dict(req)
    req["status"] = "granted"
    req["decided_time"] = ctx.block_time
    req["decided_by"] = ctx.sender.id
    req["grant"] = req["id"]
    ctx.state.set(f"req:{padded(req['id'])}", req)
    grant = make_grant(ctx, req)
    return {"id": req["id"], "grant": req["id"], "end": grant["end"]}


@invoke
def reject(ctx, request_id, reason):
    """Refuse a pending conditional request addressed to the sender's department."""
    check_text(ctx, "reason", reason, REASON_CHARS_MAX, True)
    req = pending_request_of_provider(ctx, request_id, "reject")
    req = dict(req)
    req["status"] = "rejected"
    req["decided_time"] = ctx.block_time
    req["decided_by"] = ctx.sender.id
    req["reason"] = reason
    ctx.state.set(f"req:{padded(req['id'])}", req)
    ctx.emit(
        "rejected",
        {
            "orgs": [req["requester"], req["provider"]],
            "requester": req["requester"],
            "provider": req["provider"],
            "request": req["id"],
            "reason": reason,
        },
    )
    return {"id": req["id"], "status": "rejected"}


def active_grant_of_provider(ctx, grant_id, what):
    check_role(ctx, SHARING_ROLES, what)
    found = load(ctx, "grant", grant_id, "grant_id")
    org = ctx.sender.org
    if found["provider"] != org:
        ctx.fail(f"grant {grant_id} was given by {found['provider']}, not by {org}")
    status = grant_view(ctx, found)["status"]
    if status != "active":
        ctx.fail(f"grant {grant_id} is {status}")
    return found


@invoke
def revoke_grant(ctx, grant_id, reason):
    """Withdraw an active grant given by the sender's department."""
    check_text(ctx, "reason", reason, REASON_CHARS_MAX, True)
    grant = dict(active_grant_of_provider(ctx, grant_id, "revoke_grant"))
    grant["status"] = "revoked"
    grant["reason"] = reason
    grant["revoked_time"] = ctx.block_time
    ctx.state.set(f"grant:{padded(grant_id)}", grant)
    ctx.emit(
        "revoked",
        {
            "orgs": [grant["requester"], grant["provider"]],
            "requester": grant["requester"],
            "provider": grant["provider"],
            "grant": grant_id,
            "reason": reason,
        },
    )
    return {"id": grant_id, "status": "revoked"}


@invoke
def deliver(ctx, grant_id, request_hash, response_hash, size):
    """Record that the provider sent data under an active grant (idempotent per request)."""
    request_hex = hash_hex(ctx, "request_hash", request_hash)
    response_hex = hash_hex(ctx, "response_hash", response_hash)
    if not is_int(size) or not 0 <= size <= SIZE_MAX:
        ctx.fail(f"size must be an integer from 0 to {SIZE_MAX}")
    grant = active_grant_of_provider(ctx, grant_id, "deliver")
    once_key = f"dlvh:{padded(grant_id)}:{request_hex}"
    earlier = ctx.state.get(once_key)
    if earlier is not None:
        found = ctx.state.get(f"dlv:{padded(earlier)}")
        if found["response_hash"] == response_hex and found["size"] == size:
            return {"id": earlier, "again": True}
        ctx.fail(
            f"request_hash was already delivered as delivery {earlier} "
            "with another response_hash or size"
        )
    number = next_id(ctx, "n:dlv")
    delivery = {
        "id": number,
        "grant": grant_id,
        "requester": grant["requester"],
        "provider": grant["provider"],
        "catalog": grant["catalog"],
        "request_hash": request_hex,
        "response_hash": response_hex,
        "size": size,
        "status": "delivered",
        "time": ctx.block_time,
        "height": ctx.block_height,
        "tx_id": ctx.tx_id,
        "payload_hash": None,
        "confirmed_time": None,
    }
    ctx.state.set(f"dlv:{padded(number)}", delivery)
    ctx.state.set(once_key, number)
    ctx.state.set(f"gdlv:{padded(grant_id)}:{padded(number)}", number)
    ctx.emit(
        "delivered",
        {
            "orgs": [grant["requester"], grant["provider"]],
            "requester": grant["requester"],
            "provider": grant["provider"],
            "grant": grant_id,
            "delivery": number,
            "request_hash": request_hex,
            "response_hash": response_hex,
            "size": size,
        },
    )
    return {"id": number, "again": False}


@invoke
def confirm(ctx, delivery_id, payload_hash):
    """The requester records the hash of what it received: ``confirmed`` or ``mismatch``."""
    check_role(ctx, SHARING_ROLES, "confirm")
    payload_hex = hash_hex(ctx, "payload_hash", payload_hash)
    found = load(ctx, "dlv", delivery_id, "delivery_id")
    org = ctx.sender.org
    if found["requester"] != org:
        ctx.fail(f"delivery {delivery_id} was sent to {found['requester']}, not to {org}")
    if found["status"] != "delivered":
        ctx.fail(f"delivery {delivery_id} is already {found['status']}")
    match = payload_hex == found["response_hash"]
    delivery = dict(found)
    delivery["status"] = "confirmed" if match else "mismatch"
    delivery["payload_hash"] = payload_hex
    delivery["confirmed_time"] = ctx.block_time
    ctx.state.set(f"dlv:{padded(delivery_id)}", delivery)
    ctx.emit(
        "confirmed",
        {
            "orgs": [found["requester"], found["provider"]],
            "requester": found["requester"],
            "provider": found["provider"],
            "grant": found["grant"],
            "delivery": delivery_id,
            "payload_hash": payload_hex,
            "match": match,
        },
    )
    return {"id": delivery_id, "status": delivery["status"], "match": match}


# -- queries ----------------------------------------------------------------------------------


@query
def exchange(ctx, org):
    """Where ``org`` serves granted data (``{"org", "url", "status", ...}``), or None."""
    check_id(ctx, "org", org)
    return ctx.state.get(f"exch:{org}")


@query
def duty(ctx, org, duty_id):
    """A duty of ``org`` (any status), or None."""
    check_id(ctx, "org", org)
    check_id(ctx, "duty_id", duty_id)
    return ctx.state.get(f"duty:{org}:{duty_id}")


@query
def catalog(ctx, org, code):
    """A catalog of ``org`` (any status), or None."""
    check_id(ctx, "org", org)
    check_code(ctx, "code", code)
    found = ctx.state.get(f"cat:{org}:{code}")
    if found is not None:
        found["item_count"] = ctx.state.get(f"nitem:{org}:{code}") or 0
    return found


@query
def item(ctx, org, catalog, code):
    """One data item, or None."""
    check_id(ctx, "org", org)
    check_code(ctx, "catalog", catalog)
    check_id(ctx, "code", code)
    return ctx.state.get(f"item:{org}:{catalog}:{code}")


@query
def items(ctx, org, catalog, start=0, limit=100):
    """Data items of a catalog in code order, from the ``start``-th (at most SCAN_MAX in all)."""
    check_id(ctx, "org", org)
    check_code(ctx, "catalog", catalog)
    check_limit(ctx, start, limit)
    if start + limit > SCAN_MAX:
        ctx.fail(f"start + limit must be at most {SCAN_MAX}")
    found = ctx.state.items(f"item:{org}:{catalog}:", start + limit)
    return [entry for key, entry in found[start:]]


@query
def catalogs(ctx, org, start=0, limit=100):
    """Catalogs of ``org`` in publication order, from the ``start``-th."""
    check_id(ctx, "org", org)
    check_limit(ctx, start, limit)
    total = ctx.state.get(f"ncat:{org}") or 0
    found = []
    for number in range(start, min(total, start + limit)):
        code = ctx.state.get(f"catn:{org}:{padded(number)}")
        found.append(ctx.state.get(f"cat:{org}:{code}"))
    return found


@query
def division(ctx, org, division_id):
    """A division of ``org`` (any status), or None."""
    check_id(ctx, "org", org)
    check_id(ctx, "division_id", division_id)
    return ctx.state.get(f"div:{org}:{division_id}")


@query
def divisions(ctx, org, start=0, limit=100):
    """Divisions of ``org`` in id order, from the ``start``-th (at most SCAN_MAX in all)."""
    check_id(ctx, "org", org)
    check_limit(ctx, start, limit)
    if start + limit > SCAN_MAX:
        ctx.fail(f"start + limit must be at most {SCAN_MAX}")
    found = ctx.state.items(f"div:{org}:", start + limit)
    return [entry for key, entry in found[start:]]


@query
def head(ctx, org):
    """The department's head: ``{"org", "seq", "head", "height", "time"}`` (seq 0: empty)."""
    check_id(ctx, "org", org)
    return ctx.state.get(f"head:{org}") or empty_head(org)


@query
def log(ctx, org, start=1, limit=100):
    """The department's changes with seq ``start`` onwards (seq counts from 1)."""
    check_id(ctx, "org", org)
    check_limit(ctx, start, limit)
    last = (ctx.state.get(f"head:{org}") or empty_head(org))["seq"]
    seqs = range(max(start, 1), min(start + limit, last + 1))
    return [ctx.state.get(f"log:{org}:{padded(seq)}") for seq in seqs]


@query
def settings(ctx):
    """The sharing settings: ``{"reply_deadline_ms", "period_days_max", "version"}``."""
    return current_settings(ctx)


@query
def get_request(ctx, request_id):
    """A request; a pending one past its deadline reads as ``expired``."""
    return request_view(ctx, load(ctx, "req", request_id, "request_id"))


@query
def get_grant(ctx, grant_id):
    """A grant; an active one past its end reads as ``expired``."""
    return grant_view(ctx, load(ctx, "grant", grant_id, "grant_id"))


@query
def get_delivery(ctx, delivery_id):
    """A delivery record."""
    return load(ctx, "dlv", delivery_id, "delivery_id")


@query
def deliveries(ctx, grant_id, start=0, limit=100):
    """Deliveries under a grant, oldest first (at most SCAN_MAX in all)."""
    check_record_id(ctx, "grant_id", grant_id)
    check_limit(ctx, start, limit)
    if start + limit > SCAN_MAX:
        ctx.fail(f"start + limit must be at most {SCAN_MAX}")
    found = ctx.state.items(f"gdlv:{padded(grant_id)}:", start + limit)
    return [ctx.state.get(f"dlv:{padded(number)}") for key, number in found[start:]]


def list_requests(ctx, name, org, start, limit):
    check_id(ctx, "org", org)
    check_limit(ctx, start, limit)
    total = ctx.state.get(f"n{name}:{org}") or 0
    found = []
    for number in range(start, min(total, start + limit)):
        request_id = ctx.state.get(f"{name}:{org}:{padded(number)}")
        found.append(request_view(ctx, ctx.state.get(f"req:{padded(request_id)}")))
    return found


@query
def requests_to(ctx, org, start=0, limit=100):
    """Requests addressed to ``org``, oldest first, from the ``start``-th."""
    return list_requests(ctx, "to", org, start, limit)


@query
def requests_from(ctx, org, start=0, limit=100):
    """Requests made by ``org``, oldest first, from the ``start``-th."""
    return list_requests(ctx, "from", org, start, limit)
