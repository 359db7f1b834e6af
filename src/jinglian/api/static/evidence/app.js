// Evidence receipt check: hash the record here, in chunks, and send only the
// digest and the receipt to the node, which verifies them (POST /api/v1/evidence/verify).
// The record itself is never uploaded. hash-wasm (vendor/) provides SHA-256 and SM3.
"use strict";

const CHUNK_BYTES = 4 * 1024 * 1024; // how much of the record is read at a time
const RECEIPT_BYTES_MAX = 1024 * 1024; // the node reads request bodies up to 1 MiB
const RECEIPT_FORMAT = "jinglian-evidence-receipt";
const HASHERS = { sha256: () => hashwasm.createSHA256(), sm3: () => hashwasm.createSM3() };
const VERIFY_URL = "../../api/v1/evidence/verify"; // relative to /evidence/page/

const $ = (id) => document.getElementById(id);

// Reasons the page refuses to go on by itself (shown as they are).
class InputProblem extends Error {}

async function readReceipt(file) {
  if (!file) throw new InputProblem("Choose the receipt file.");
  if (file.size > RECEIPT_BYTES_MAX) {
    throw new InputProblem(`The receipt file is ${file.size} bytes: too big to be a receipt.`);
  }
  let receipt;
  try {
    receipt = JSON.parse(await file.text());
  } catch {
    throw new InputProblem(`The receipt file "${file.name}" is not JSON, so it is not a receipt.`);
  }
  if (receipt === null || typeof receipt !== "object" || receipt.format !== RECEIPT_FORMAT) {
    throw new InputProblem(`The file "${file.name}" is JSON but not a jinglian evidence receipt.`);
  }
  if (receipt.version !== 1) {
    throw new InputProblem(`This page reads receipts of version 1; this one is version ${receipt.version}.`);
  }
  const alg = receipt.deposit?.alg;
  if (!Object.hasOwn(HASHERS, alg ?? "")) {
    throw new InputProblem(`The receipt names the hash algorithm ${JSON.stringify(alg)}; expected sha256 or sm3.`);
  }
  return receipt;
}

async function hashFile(file, alg, onProgress) {
  if (typeof hashwasm === "undefined") {
    throw new InputProblem("This page lacks its hashing library (vendor/, installed by make setup on the node).");
  }
  const hasher = await HASHERS[alg]();
  hasher.init();
  for (let offset = 0; offset < file.size; offset += CHUNK_BYTES) {
    const chunk = await file.slice(offset, offset + CHUNK_BYTES).arrayBuffer();
    hasher.update(new Uint8Array(chunk));
    onProgress(Math.min(offset + CHUNK_BYTES, file.size), file.size);
  }
  return hasher.digest("hex");
}

async function askNode(digest, receipt) {
  const response = await fetch(VERIFY_URL, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ digest, receipt }),
  });
  const body = await response.json().catch(() => null);
  if (response.ok && body && typeof body.valid === "boolean") return body;
  const error = body?.error ?? body ?? {};
  throw new InputProblem(
    `The node refused the request (HTTP ${response.status}${error.code ? ", " + error.code : ""}): ` +
      (error.message ?? "no explanation given."),
  );
}

function showProgress(done, total) {
  const percent = total ? Math.floor((100 * done) / total) : 100;
  $("progress").value = percent;
  $("progress-text").textContent = `Hashing locally: ${percent} % of ${formatBytes(total)}`;
}

function formatBytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function setResult(state, heading, lines = [], details = null) {
  const result = $("result");
  result.replaceChildren();
  result.dataset.state = state;
  if (state === "valid" || state === "invalid") result.dataset.valid = String(state === "valid");
  else delete result.dataset.valid;
  const h = document.createElement("h2");
  h.textContent = heading;
  result.append(h);
  for (const line of lines) {
    const p = document.createElement("p");
    p.textContent = line;
    result.append(p);
  }
  if (details) result.append(details);
}

function who(party) {
  return party ? `${party.name} (${party.role}) of ${party.org}` : "";
}

function describeValid(r) {
  const rows = [
    ["Depositor", who(r.depositor)],
    ["Signed by", who(r.signer)],
    ["Deposited at", r.time],
    ["Block height", r.height],
    ["Transaction", r.tx_id],
    ["Signed by validators", `${r.validators.join(", ")} (power ${r.power} of ${r.total_power})`],
    ["Checkpoint height", r.checkpoint_height],
    ["Chain", r.chain_id],
    ["Deposit", r.deposit_id],
    ["Title", r.title],
    ["Type", r.type],
    ["Reference", r.ref],
    [`Digest (${r.alg})`, r.digest],
  ];
  const dl = document.createElement("dl");
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = String(value);
    dl.append(dt, dd);
  }
  return dl;
}

async function verify(event) {
  event.preventDefault();
  const file = $("file").files[0];
  $("verify").disabled = true;
  $("digest-line").hidden = true;
  try {
    const receipt = await readReceipt($("receipt").files[0]);
    if (!file) throw new InputProblem("Choose the record file.");
    const alg = receipt.deposit.alg;
    setResult("working", "Hashing the file in this browser…");
    $("progress-box").hidden = false;
    showProgress(0, file.size);
    const digest = await hashFile(file, alg, showProgress);
    $("digest-alg").textContent = alg;
    $("digest").textContent = digest;
    $("digest-line").hidden = false;
    setResult("working", "Asking the node…");
    const answer = await askNode(digest, receipt);
    if (answer.valid) {
      setResult("valid", "Valid", ["This node confirms the receipt matches this file:"], describeValid(answer.result));
    } else {
      setResult("invalid", "Not valid", [answer.reason, `(${answer.code})`]);
    }
  } catch (error) {
    const message = error instanceof InputProblem ? error.message : `Something went wrong: ${error}`;
    setResult("error", "Cannot verify", [message]);
  } finally {
    $("verify").disabled = false;
  }
}

function setUpZone(zoneId, inputId, nameId) {
  const zone = $(zoneId);
  const input = $(inputId);
  const showName = () => {
    $(nameId).textContent = input.files[0] ? `${input.files[0].name} (${formatBytes(input.files[0].size)})` : "";
  };
  input.addEventListener("change", showName);
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) input.files = event.dataTransfer.files;
    showName();
  });
}

// A file dropped beside the zones would make the browser open it and leave the page.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());
setUpZone("file-zone", "file", "file-name");
setUpZone("receipt-zone", "receipt", "receipt-name");
$("form").addEventListener("submit", verify);
