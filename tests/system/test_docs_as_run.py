"""The documentation, run: every shell command in README.md and docs/*.md, and the
example agency client of docs/agency-integration.md, against the suite as `make run`
starts it (gm_platform.testing.system).

How the docs mark a command — the convention this test enforces:

- A command is a line of a fenced code block whose info string is `sh`, `bash`, `shell`
  or `console` (in a `console` block only lines starting `$ `, the rest being output).
  A line ending in `\\` continues on the next; a here-document (`<<'EOF'` ... `EOF`)
  belongs to the line that opens it; lines that are only a `# comment` are not commands.
  Fences may be indented (inside a list item).
- `<name>` marks a value the reader fills in. To run a command, the test fills in the
  values it makes against the running suite (`placeholders` below: `<case_id>` and
  `<case_number>` of a case registered and assigned, `<today>`, `<month>`, `<letter_id>`
  of a freshly parked message, `<handoff_id>` of none); a command to run with another
  placeholder fails the test: add its value there, or write the command so.
- `localhost:8001`..`8004` (or `127.0.0.1:`) are the services' default ports: the test
  points them at the ports its suite runs on. The suite runs with the development tokens
  of deploy/dev-tokens.json (and the harness's own), so `dev-clerk` etc. work as written.
- Commands run one by one, in document order (README.md, then docs/*.md by name), with
  `bash -c` in a copy of the checkout made of symlinks, whose `var` is the suite's data
  directory, and with the suite's environment (AMQP_URI on its vhost, GM_DATA_DIR,
  GM_*_PORT, GM_TOKENS_FILE), GM_RABBIT_API of the test broker and `.venv/bin` first on
  PATH (so `gm ...` works as well as `.venv/bin/gm ...`). Each must exit 0 within
  COMMAND_TIMEOUT seconds.
- Commands that would start long-running things, change the checkout, the virtualenv or
  the broker outside the test's vhost, or need Docker or Kubernetes are not run: NOT_RUN
  lists each kind with the reason, and the test checks what they name exists (the make
  target, the `gm` subcommand, the files given with -f / -k).
- An indented code block (four spaces) is never run, so it must not hold a command: the
  test fails on one that starts like one (COMMAND_WORDS) — fence it as ```sh.

Whatever commands the docs hold when the test runs are the ones it runs: a new `gm ...`
command documented in a fenced block is run like the others.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import unquote

import pytest
from kombu import Connection

from gm_platform.config import DEFAULT_PORTS
from gm_platform.testing.broker import MANAGEMENT_URI, _api, private_vhost
from gm_platform.testing.system import ROOT, TOKENS, Suite, report, today_local, wait_until

pytestmark = pytest.mark.timeout(600)

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
COMMAND_TIMEOUT = 120
VENV_BIN = Path(sys.executable).parent
#: First words of an indented block that is a command, hence must be fenced.
COMMAND_WORDS = ("make", "curl", "gm", ".venv/bin/", "python", "python3", "docker", "kubectl",
                 "sqlite3", "rabbitmqctl", "git", "pip", "bash", "sh", "export")

# -- reading the docs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    path: Path
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{_name(self.path)}:{self.line}"

    @property
    def words(self) -> List[str]:
        """The program and its arguments, without leading VAR=value assignments and with
        `.venv/bin/` taken off the program."""
        first = self.text.replace("\\\n", " ").split("\n", 1)[0]  # before a here-document
        try:
            words = shlex.split(first, comments=True)
        except ValueError:
            words = first.split()
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words.pop(0)
        if words and words[0].startswith(".venv/bin/"):
            words[0] = words[0][len(".venv/bin/"):]
        return words


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w-]*)")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_]\w*)\1")


def extract_commands(path: Path) -> List[Command]:
    """Every command of `path`'s fenced shell blocks (the module docstring's convention)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    commands: List[Command] = []
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        indent, fence, language = opened.groups()
        body, start = [], i + 1
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                      and lines[i].strip().strip(fence[0]) == ""):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        if language in SHELL_LANGUAGES:
            commands += _commands_of(path, start, body, console=language == "console")
    return commands


def _commands_of(path: Path, start: int, body: Sequence[str], console: bool) -> List[Command]:
    out, j = [], 0
    while j < len(body):
        line, first = body[j], start + j + 1
        j += 1
        if console:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if not line.strip() or line.strip().startswith("#"):
            continue
        text = [line]
        while (text[-1].rstrip().endswith("\\") or _open_quote("\n".join(text))) \
                and j < len(body):
            text.append(body[j])
            j += 1
        heredoc = _HEREDOC.search("\n".join(text))
        if heredoc:
            while j < len(body):
                text.append(body[j])
                j += 1
                if text[-1].strip() == heredoc.group(2):
                    break
        out.append(Command(path, first, "\n".join(text)))
    return out


def _open_quote(text: str) -> bool:
    """A quotation still open at the end of `text` (it goes on, on the next line)."""
    try:
        shlex.split(text, comments=True)
    except ValueError:
        return True
    return False


def indented_commands(path: Path) -> List[str]:
    """Indented code blocks (outside fences) whose first line starts like a command."""
    found, in_fence, previous = [], None, ""
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        opened = _FENCE.match(line)
        if opened:
            in_fence = None if in_fence else opened.group(2)
        elif in_fence is None and line.startswith("    ") and not previous.strip():
            first = line.strip().split(" ", 1)[0]
            first = re.sub(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$", "export", first)
            if any(first == w or (w.endswith("/") and first.startswith(w))
                   for w in COMMAND_WORDS):
                found.append(f"{_name(path)}:{number}: {line.strip()}")
        previous = line
    return found


# -- what is not run, and why ---------------------------------------------------------------

def _make_target(command: Command) -> Optional[str]:
    """The target exists: `make -n TARGET` (prints the recipe, runs nothing)."""
    target = command.words[1]
    done = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    return None if done.returncode == 0 else f"no make target {target!r}: {done.stderr[-300:]}"


def _gm_subcommand(command: Command) -> Optional[str]:
    """The subcommand exists: `gm WORDS --help`."""
    words = []
    for word in command.words[1:]:
        if word.startswith(("-", "<")):
            break
        words.append(word)
    done = subprocess.run([str(VENV_BIN / "gm"), *words, "--help"], capture_output=True,
                          text=True, timeout=60)
    return None if done.returncode == 0 else f"gm {' '.join(words)}: {done.stderr[-300:]}"


def _named_files(command: Command) -> Optional[str]:
    """The paths given with -f / --file / -k / --kustomize exist in the checkout (a value
    without a slash is no path: `logs -f intake` follows)."""
    words = command.words
    missing = [value for flag, value in zip(words, words[1:])
               if flag in ("-f", "--file", "-k", "--kustomize") and "/" in value
               and "<" not in value and not (ROOT / value).exists()]
    return f"missing: {', '.join(missing)}" if missing else None


#: (first words, why it is not run, what is checked instead).
NOT_RUN: Sequence[Tuple[Tuple[str, ...], str, Optional[Callable[[Command], Optional[str]]]]] = (
    (("make", "run"), "runs the suite in the foreground until stopped; this test starts "
     "it exactly that way (gm_platform.testing.system)", _make_target),
    (("make", "test"), "the whole test suite, this test among them (about ten minutes)",
     _make_target),
    (("make", "bench"), "minutes of load; its results are in bench/results", _make_target),
    (("make", "chaos"), "three runs of faults under load; tests/system/test_chaos.py runs "
     "a short one", _make_target),
    (("make", "demo"), "a month of cases against `make run`'s ports; tests/system/"
     "test_demo.py plays a small one twice", _make_target),
    (("make", "fuzz"), "minutes of fuzzing; make test runs a smaller share "
     "(tests/test_http_fuzz.py)", _make_target),
    (("make", "up"), "builds images and starts the compose stack (Docker); "
     "tests/deploy/test_compose_e2e.py does where Docker runs", _make_target),
    (("make", "down"), "stops the compose stack (Docker)", _make_target),
    (("make", "docs"), "rewrites generated files in the checkout; tests/test_docs.py fails "
     "while they are stale", _make_target),
    (("make", "contracts"), "rewrites docs/asyncapi.yaml; libs/gm_contracts/tests/"
     "test_contracts_asyncapi.py fails while it is stale", _make_target),
    (("make", "k8s-data"), "rewrites deploy/k8s/base/data; tests/deploy/test_k8s.py fails "
     "while the copies differ", _make_target),
    (("make", "install"), "changes the virtualenv this test runs in", _make_target),
    (("make", "clean"), "deletes the virtualenv this test runs in", _make_target),
    (("docker",), "needs a Docker engine and the images or stack of deploy/", _named_files),
    (("kubectl",), "needs a Kubernetes cluster", _named_files),
    (("git",), "changes the checkout", None),
    (("rabbitmqctl",), "acts on the broker outside the test's vhost (delete_queue would "
     "delete a live queue)", None),
    (("gm", "broker", "provision"), "creates or changes a broker-wide user named after the "
     "agency; test_the_example_agency_client... below provisions a user of its own with it",
     _gm_subcommand),
)


def not_run(command: Command):
    for words, reason, check in NOT_RUN:
        if tuple(command.words[:len(words)]) == words:
            return reason, check
    return None


def all_commands() -> List[Command]:
    return [c for path in DOCS for c in extract_commands(path)]


# -- tests that need no suite ------------------------------------------------------------------

def test_the_docs_mark_every_command_so_it_can_be_run():
    found = [line for path in DOCS for line in indented_commands(path)]
    assert found == [], ("commands in indented blocks are never run; fence them as ```sh:\n"
                         + "\n".join(found))


def test_commands_are_read_with_their_continuations_and_here_documents(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n  ```sh\n  # a comment\n  gm dlq list \\\n    --service intake\n"
                    "  python3 - <<'EOF'\n  print(1)\n  EOF\n  curl -d '{\"a\":\n    1}' x\n  ```\n\n"
                    "```console\n$ make run\n"
                    "output\n```\n\n```json\n{\"a\": 1}\n```\n\n    make test\n",
                    encoding="utf-8")
    assert [c.text for c in extract_commands(page)] == [
        "gm dlq list \\\n  --service intake", "python3 - <<'EOF'\nprint(1)\nEOF",
        "curl -d '{\"a\":\n  1}' x", "make run"]
    assert [c.line for c in extract_commands(page)] == [5, 7, 10, 15]
    assert len(indented_commands(page)) == 1


def test_the_docs_hold_the_commands_this_test_is_for():
    texts = [c.text for c in all_commands()]
    for expected in ("make run", "gm dlq list --service intake", "agency_client.py",
                     "curl -sS --fail-with-body -X POST localhost:8001/cases"):
        assert any(expected in t for t in texts), expected


def test_the_example_agency_client_needs_only_kombu_and_the_standard_library():
    import ast

    tree = ast.parse((ROOT / "docs/examples/agency_client.py").read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - set(sys.stdlib_module_names) == {"kombu"}


# -- the suite --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """`make run` on a vhost of its own, with the development tokens and the harness's."""
    with private_vhost("gm-docs") as amqp_uri:
        suite = Suite(tmp_path_factory.mktemp("suite"), amqp_uri)
        dev = json.loads((ROOT / "deploy/dev-tokens.json").read_text(encoding="utf-8"))
        suite.tokens_file.write_text(json.dumps(
            {"tokens": dev["tokens"] + TOKENS["tokens"]}), encoding="utf-8")
        try:
            suite.start()
            yield suite
        finally:
            try:
                unclean = suite.stop()
            finally:
                suite.kill()
            assert unclean == [], f"no graceful stop of {unclean}:\n{suite.tail()}"


def _registered_and_assigned(suite) -> dict:
    reply = suite.http("POST", "intake", "/cases", "clerk", body={
        "channel": "visit", "category": "neighbour", "summary": "邻里纠纷", "region": "410611100201",
        "parties": [{"role": "applicant", "name": "王五"}]})
    assert reply.status_code == 201, reply.text
    case = reply.json()
    case_id = case["case_id"]
    wait_until(lambda: (suite.get_json("mediation", f"/cases/{case_id}/mediation", "mediator")
                        or {}).get("status") == "assigned", 60, "mediation has the case")
    wait_until(lambda: suite.get_json("reporting", f"/cases/{case_id}", "analyst"), 60,
               "reporting has the case")
    return case


def _parked_letter(suite) -> str:
    """A new message intake parks (it names no agency), for a `gm dlq replay`: each replay
    parks the message again under a new letter id."""
    message_id = str(uuid.uuid4())
    with Connection(suite.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        # a body of its own: the same bytes again would be the same (unanswerable) message
        conn.Producer().publish(json.dumps({"id": message_id}).encode(), exchange="gm.inbound",
                                routing_key="nobody.referral",
                                message_id=message_id, content_type="application/json",
                                delivery_mode=2)
    [letter] = wait_until(lambda: [
        d for d in suite.dead_letters("intake")
        if d["properties"].get("message_id") == message_id], 60, "the message parked")
    return letter["id"]


def _example_client(uri: str, *args: str, timeout: float = 120) -> Tuple[int, List[dict], str]:
    done = subprocess.run([sys.executable, str(ROOT / "docs/examples/agency_client.py"),
                           "--amqp-uri", uri, "--agency", "court", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, lines, done.stderr[-2000:]


def test_the_example_agency_client_refers_gets_its_answer_and_replies_to_a_hand_off(suite):
    """docs/examples/agency_client.py with an agency user made by `gm broker provision`
    (publish to gm.inbound under `court.` only, read gm.outbound.court only, configure
    nothing): refer, wait for `referral_accepted`, then read the inbox and accept the
    hand-off mediation sends, and hear the outcome."""
    vhost = suite.amqp_uri.rsplit("/", 1)[1]
    user, password = f"court-docs-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    provisioned = subprocess.run(
        [str(VENV_BIN / "gm"), "broker", "provision", "--agency", "court", "--password",
         password, "--vhost", unquote(vhost), "--user", user],
        env={**os.environ, "GM_RABBIT_API": MANAGEMENT_URI}, capture_output=True, text=True,
        timeout=60)
    assert provisioned.returncode == 0, provisioned.stderr
    host = suite.amqp_uri.split("@", 1)[1]
    uri = f"amqp://{user}:{password}@{host}"
    try:
        status, received, errors = _example_client(uri, "refer", "--timeout", "60")
        assert status == 0, errors
        [accepted] = [m for m in received if m["type"] == "referral_accepted"]
        case_id = accepted["data"]["case_id"]
        wait_until(lambda: (suite.get_json("mediation", f"/cases/{case_id}/mediation",
                                           "mediator") or {}).get("status") == "assigned",
                   60, "mediation has the case")
        failed = suite.http("POST", "mediation", f"/cases/{case_id}/failure", "mediator",
                            body={"reason": "双方分歧较大，转诉讼", "next": "litigation"})
        assert failed.status_code == 200, failed.text
        status, received, errors = _example_client(
            uri, "inbox", "--for", "90", "--until", "case_outcome", "--reply", "accepted")
        assert status == 0, errors
        [handoff] = [m for m in received if m["type"] == "handoff_requested"]
        assert (handoff["data"]["case_id"], handoff["data"]["kind"]) == (case_id, "litigation")
        [outcome] = [m for m in received if m["type"] == "case_outcome"]
        assert (outcome["data"]["case_id"], outcome["data"]["outcome"]) == (case_id, "handed_off")
        assert [m for m in received if m["type"] == "rejected"] == []
    finally:
        _api("DELETE", f"/users/{user}")
    report("docs_example_agency_client", referral="referral_accepted",
           handoff="accepted", outcome="handed_off")


def test_every_command_in_the_docs_runs_against_the_suite(suite, tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ("var", ".git"):
            (checkout / entry.name).symlink_to(entry)
    (checkout / "var").symlink_to(suite.data_dir)
    case = _registered_and_assigned(suite)  # registered, assigned, in reporting
    placeholders: Dict[str, Callable[[], str]] = {  # a value made for each command using it
        "case_id": lambda: case["case_id"],
        "case_number": lambda: case["case_number"],
        "today": today_local,
        "month": lambda: today_local()[:7],
        "letter_id": lambda: _parked_letter(suite),
        "handoff_id": lambda: f"H-docs-{uuid.uuid4().hex[:8]}",  # none such: answered rejected
    }
    env = {**suite.env, "GM_RABBIT_API": MANAGEMENT_URI,
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    ports = {str(port): str(suite.ports[service]) for service, port in DEFAULT_PORTS.items()}

    ran, checked, failures = [], [], []
    for command in all_commands():
        skipped = not_run(command)
        if skipped:
            reason, check = skipped
            problem = check(command) if check else None
            checked.append(f"{command.where}: {reason}")
            if problem:
                failures.append(f"{command.where}: {command.text}\n  {problem}")
            continue
        text = re.sub(r"\b(localhost|127\.0\.0\.1):(800[1-4])\b",
                      lambda m: f"{m.group(1)}:{ports[m.group(2)]}", command.text)
        unknown = sorted(set(re.findall(r"<([a-z_]+)>", text)) - set(placeholders))
        if unknown:
            failures.append(f"{command.where}: {command.text}\n  no value for "
                            f"{', '.join(f'<{u}>' for u in unknown)} (add it to `placeholders`)")
            continue
        for name, value in placeholders.items():
            if f"<{name}>" in text:
                text = text.replace(f"<{name}>", value())
        try:
            done = subprocess.run(["bash", "-o", "pipefail", "-c", text], cwd=checkout, env=env,
                                  capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
            status, output = done.returncode, (done.stdout + done.stderr)[-1500:]
        except subprocess.TimeoutExpired:
            status, output = "timeout", ""
        ran.append(command.where)
        if status != 0:
            failures.append(f"{command.where}: {command.text}\n  exit {status}\n{output}")
    report("docs_commands", ran=len(ran), checked_not_run=len(checked), failed=len(failures))
    print("\n".join(["not run:", *checked]))
    assert failures == [], "\n\n".join(failures)
    assert len(ran) >= 10, ran
