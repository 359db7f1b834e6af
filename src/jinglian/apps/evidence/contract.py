# mypy: allow-untyped-defs, allow-untyped-calls
# (A contract is untyped: the sandbox forbids importing typing. The comment is not code.)
"""Evidence preservation (存证): deposit the digest of an electronic record, look it up later.

This module is the contract's source: ``deploy_evidence_contract`` reads this
file's text and deploys it, so it uses nothing but the contract SDK.

Methods::

    deposit(items)                       invoke: store 1..BATCH_MAX deposits: {"tx_id", "count"}
    get(digest, limit=100)               query: deposits of a digest, earliest first
    by_depositor(depositor, limit=100)   query: a depositor's newest deposits, newest last

An item of ``deposit`` is a map: ``digest`` (32 bytes), ``alg`` (``"sha256"``;
on a ``gm`` chain also ``"sm3"``), ``title`` (str, at most TITLE_CHARS_MAX),
``type`` (str, at most TYPE_CHARS_MAX), ``ref`` (the depositor's reference, str,
at most REF_CHARS_MAX) and optionally ``env_hash`` (32 bytes: hash of a
capture-environment report), ``extra`` (a flat map, see below), ``sig`` (bytes,
at most SIG_BYTES_MAX) with ``signer`` (the DER certificate of its key, at
most SIGNER_BYTES_MAX): a signature over the digest by someone other than the
sender, e.g. an end user; given together, stored, not checked here (the
receipt verifier checks it), and ``corrects`` (the id of an earlier deposit this one
corrects; it must exist). One bad item fails the whole transaction with a
message naming the item's index and field.

The chain's suite is told by ``ctx.hash``: if it hashes like SHA-256 the chain
is ``default`` and only ``sha256`` is accepted, otherwise (SM3, ``gm``) both are.

``extra`` cannot be measured in its canonical encoding from inside the sandbox,
so it is bounded by shape: at most EXTRA_KEYS_MAX str keys, values ``None``,
bool, int, str or bytes, and a size (UTF-8 bytes of keys and text, bytes,
EXTRA_ENTRY_OVERHEAD_BYTES per entry for tags, lengths and integers) of at most
EXTRA_BYTES_MAX.

A deposit id is ``<tx id hex>:<index in the batch>``. ``deposit`` returns
``{"tx_id": <hex>, "count": n}`` rather than the n ids themselves, which would
pass the 64 KiB limit on a return value for a full batch; the ids are
``<tx_id>:0`` .. ``<tx_id>:<n - 1>`` (``jinglian.apps.evidence.deposit`` lists
them). Note that a transaction is at most ``tx_bytes_max`` (64 KiB by default)
and a call's arguments at most 128 KiB: a full batch of BATCH_MAX items fits
the latter but, even with empty metadata, not the former. Deposits are never
modified or deleted: no method writes to an existing key. A correction is a
new deposit whose ``corrects`` names the old one.

State keys (heights zero padded to HEIGHT_DIGITS, indexes to INDEX_DIGITS):

- ``b:<tx id hex>:<chunk>`` -- the batch's items in chunks of consecutive
  items whose size, bounded from their fields' lengths, stays under
  CHUNK_BYTES_MAX (a state value is at most 64 KiB):
  ``{"height", "time", "depositor": {"id", "org"}, "count" (items in the
  batch), "first" (index of the chunk's first item), "items"}``.
- ``d:<digest hex>:<height>:<tx id hex>:<index>`` -- the number of the
  item's chunk: one small key per deposit. Sorting by key gives a digest's deposits
  earliest first (within one block, by tx id).
- ``by:<depositor id hex>:<HEIGHT_INVERT - height>:<tx id hex>`` -- the
  batch's chunk count, per depositor; the height is inverted so a bounded scan
  of the prefix finds the newest batches first.

A record (what ``get`` and ``by_depositor`` return) is assembled from the
batch: ``digest``, ``alg``, ``title``, ``type``, ``ref``, ``env_hash``,
``extra``, ``sig``, ``signer``, ``corrects``, ``depositor`` (``{"id", "org"}``),
``height``, ``time`` (block time, ms), ``tx_id`` (hex), ``index``, ``id``.

Each successful ``deposit`` emits one ``deposited`` event ``{"count": n}``.
"""

from jinglian.contract import invoke, query

BATCH_MAX = 1000
DIGEST_BYTES = 32
ALGS = ("sha256", "sm3")
SHA256_OF_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
TITLE_CHARS_MAX = 200
TYPE_CHARS_MAX = 64
REF_CHARS_MAX = 128
SIG_BYTES_MAX = 160
SIGNER_BYTES_MAX = 4096
EXTRA_KEYS_MAX = 64
EXTRA_BYTES_MAX = 4096
EXTRA_ENTRY_OVERHEAD_BYTES = 16
LIST_MAX = 1000
CHUNK_BYTES_MAX = 49152
ITEM_OVERHEAD_BYTES = 256
KNOWN_FIELDS = (
    "digest",
    "alg",
    "title",
    "type",
    "ref",
    "env_hash",
    "extra",
    "sig",
    "signer",
    "corrects",
)
HEIGHT_DIGITS = 20
INDEX_DIGITS = 4
HEIGHT_INVERT = 99999999999999999999
DEPOSITOR_HEX_CHARS = 64
HEX_DIGITS = "0123456789abcdef"


def fail_item(ctx, index, field, message):
    ctx.fail(f"deposit item {index}: {field} {message}")


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_hex(text, chars):
    return len(text) == chars and all([char in HEX_DIGITS for char in text.lower()])


def accepted_algs(ctx):
    if ctx.hash(b"").hex() == SHA256_OF_EMPTY:
        return ("sha256",)
    return ALGS


def check_text(ctx, index, item, field, chars_max):
    value = item.get(field)
    if not isinstance(value, str):
        fail_item(ctx, index, field, "must be a str")
    if len(value) > chars_max:
        fail_item(ctx, index, field, f"is {len(value)} characters, over {chars_max}")


def check_hash(ctx, index, value, field):
    if not isinstance(value, bytes):
        fail_item(ctx, index, field, "must be bytes")
    if len(value) != DIGEST_BYTES:
        fail_item(ctx, index, field, f"must be {DIGEST_BYTES} bytes, not {len(value)}")


def extra_value_bytes(value):
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bytes):
        return len(value)
    return 0


def check_extra(ctx, index, extra):
    if not isinstance(extra, dict):
        fail_item(ctx, index, "extra", "must be a map")
    if len(extra) > EXTRA_KEYS_MAX:
        fail_item(ctx, index, "extra", f"has {len(extra)} keys, over {EXTRA_KEYS_MAX}")
    size = 0
    for key, value in extra.items():
        if not isinstance(key, str):
            fail_item(ctx, index, "extra", "keys must be str")
        if value is not None and not isinstance(value, (bool, int, str, bytes)):
            fail_item(
                ctx, index, "extra", f"value of {key!r} must be null, bool, int, str or bytes"
            )
        size += len(key.encode("utf-8")) + extra_value_bytes(value) + EXTRA_ENTRY_OVERHEAD_BYTES
    if size > EXTRA_BYTES_MAX:
        fail_item(ctx, index, "extra", f"is {size} bytes, over {EXTRA_BYTES_MAX}")


def check_optional(ctx, index, item):
    if item.get("env_hash") is not None:
        check_hash(ctx, index, item["env_hash"], "env_hash")
    if item.get("extra") is not None:
        check_extra(ctx, index, item["extra"])
    sig = item.get("sig")
    if sig is not None and not isinstance(sig, bytes):
        fail_item(ctx, index, "sig", "must be bytes")
    if sig is not None and len(sig) > SIG_BYTES_MAX:
        fail_item(ctx, index, "sig", f"is {len(sig)} bytes, over {SIG_BYTES_MAX}")
    signer = item.get("signer")
    if (sig is None) != (signer is None):
        fail_item(ctx, index, "sig", "and signer go together: both or neither")
    if signer is not None and not isinstance(signer, bytes):
        fail_item(ctx, index, "signer", "must be bytes (a DER certificate)")
    if signer is not None and len(signer) > SIGNER_BYTES_MAX:
        fail_item(ctx, index, "signer", f"is {len(signer)} bytes, over {SIGNER_BYTES_MAX}")
    corrects = item.get("corrects")
    if corrects is not None and not isinstance(corrects, str):
        fail_item(ctx, index, "corrects", "must be a deposit id (str)")
    if corrects is not None and not deposit_exists(ctx, corrects):
        fail_item(ctx, index, "corrects", f"names no deposit: {corrects!r}")


def deposit_exists(ctx, deposit_id):
    parts = deposit_id.split(":")
    if len(parts) != 2 or not is_hex(parts[0], 64) or not parts[1].isdigit():
        return False
    first = ctx.state.get(chunk_key(parts[0].lower(), 0))
    return first is not None and int(parts[1]) < first["count"]


def chunk_key(tx_id, chunk):
    return f"b:{tx_id}:{padded(chunk, INDEX_DIGITS)}"


def item_bytes(item):
    """An upper bound of a checked item's encoded size, from its fields' lengths."""
    size = ITEM_OVERHEAD_BYTES + 4 * (len(item["title"]) + len(item["type"]) + len(item["ref"]))
    if item.get("extra") is not None:
        size += EXTRA_BYTES_MAX + EXTRA_KEYS_MAX * EXTRA_ENTRY_OVERHEAD_BYTES
    size += len(item.get("sig") or b"") + len(item.get("signer") or b"")
    return size + 4 * len(item.get("corrects") or "")


def split_chunks(items):
    """Runs of consecutive items whose bounded size stays under CHUNK_BYTES_MAX."""
    chunks = [[]]
    size = 0
    for item in items:
        bound = item_bytes(item)
        if chunks[-1] and size + bound > CHUNK_BYTES_MAX:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += bound
    return chunks


def check_item(ctx, index, item, algs):
    if not isinstance(item, dict):
        ctx.fail(f"deposit item {index}: must be a map")
    if len(item) != len([field for field in KNOWN_FIELDS if field in item]):
        unknown = sorted([str(field) for field in item if field not in KNOWN_FIELDS])
        fail_item(ctx, index, unknown[0], "is not a known field")
    check_hash(ctx, index, item.get("digest"), "digest")
    alg = item.get("alg")
    if alg not in algs:
        fail_item(ctx, index, "alg", f"must be one of {', '.join(algs)} on this chain, not {alg!r}")
    check_text(ctx, index, item, "title", TITLE_CHARS_MAX)
    check_text(ctx, index, item, "type", TYPE_CHARS_MAX)
    check_text(ctx, index, item, "ref", REF_CHARS_MAX)
    check_optional(ctx, index, item)


def padded(number, digits):
    return str(number).zfill(digits)


def make_record(batch, tx_id, index):
    item = batch["items"][index - batch["first"]]
    return {
        "digest": item["digest"],
        "alg": item["alg"],
        "title": item["title"],
        "type": item["type"],
        "ref": item["ref"],
        "env_hash": item.get("env_hash"),
        "extra": item.get("extra"),
        "sig": item.get("sig"),
        "signer": item.get("signer"),
        "corrects": item.get("corrects"),
        "depositor": batch["depositor"],
        "height": batch["height"],
        "time": batch["time"],
        "tx_id": tx_id,
        "index": index,
        "id": f"{tx_id}:{index}",
    }


def save_batch(ctx, items):
    height = ctx.block_height
    at = padded(height, HEIGHT_DIGITS)
    chunks = split_chunks(items)
    first = 0
    for number, chunk in enumerate(chunks):
        ctx.state.set(
            chunk_key(ctx.tx_id, number),
            {
                "height": height,
                "time": ctx.block_time,
                "depositor": {"id": ctx.sender.id, "org": ctx.sender.org},
                "count": len(items),
                "first": first,
                "items": chunk,
            },
        )
        for offset, item in enumerate(chunk):
            index = padded(first + offset, INDEX_DIGITS)
            ctx.state.set(f"d:{item['digest'].hex()}:{at}:{ctx.tx_id}:{index}", number)
        first += len(chunk)
    inverted = padded(HEIGHT_INVERT - height, HEIGHT_DIGITS)
    ctx.state.set(f"by:{ctx.sender.id}:{inverted}:{ctx.tx_id}", len(chunks))


def check_limit(ctx, limit):
    if not is_int(limit) or not 0 < limit <= LIST_MAX:
        ctx.fail(f"limit must be an integer from 1 to {LIST_MAX}")


@invoke
def deposit(ctx, items):
    """Store each item as a new deposit; returns ``{"tx_id", "count"}`` (ids ``<tx_id>:<i>``)."""
    if not isinstance(items, list):
        ctx.fail("items must be a list of deposit maps")
    if not 0 < len(items) <= BATCH_MAX:
        ctx.fail(f"a deposit holds 1 to {BATCH_MAX} items, not {len(items)}")
    algs = accepted_algs(ctx)
    for index, item in enumerate(items):
        check_item(ctx, index, item, algs)
    save_batch(ctx, items)
    ctx.emit("deposited", {"count": len(items)})
    return {"tx_id": ctx.tx_id, "count": len(items)}


@query
def get(ctx, digest, limit=100):
    """Up to ``limit`` deposits of ``digest`` (32 bytes or 64 hex characters), earliest first."""
    check_limit(ctx, limit)
    if isinstance(digest, str) and is_hex(digest, 2 * DIGEST_BYTES):
        digest = bytes.fromhex(digest)
    if not isinstance(digest, bytes) or len(digest) != DIGEST_BYTES:
        ctx.fail(f"digest must be {DIGEST_BYTES} bytes or {2 * DIGEST_BYTES} hex characters")
    chunks = {}
    records = []
    for key, number in ctx.state.items(f"d:{digest.hex()}:", limit):
        parts = key.split(":")
        name = chunk_key(parts[3], number)
        if name not in chunks:
            chunks[name] = ctx.state.get(name)
        records.append(make_record(chunks[name], parts[3], int(parts[4])))
    return records


@query
def by_depositor(ctx, depositor, limit=100):
    """Up to ``limit`` newest deposits of certificate id ``depositor`` (hex), newest last."""
    check_limit(ctx, limit)
    if not isinstance(depositor, str) or not is_hex(depositor, DEPOSITOR_HEX_CHARS):
        ctx.fail(f"depositor must be a certificate id of {DEPOSITOR_HEX_CHARS} hex characters")
    newest_first = []
    for key, chunk_count in ctx.state.items(f"by:{depositor.lower()}:", limit):
        tx_id = key.split(":")[3]
        for number in reversed(range(chunk_count)):
            chunk = ctx.state.get(chunk_key(tx_id, number))
            for offset in reversed(range(len(chunk["items"]))):
                if len(newest_first) < limit:
                    newest_first.append(make_record(chunk, tx_id, chunk["first"] + offset))
    return list(reversed(newest_first))
