"""Fuzz a running service's HTTP API from its own /openapi.json (schemathesis).

`fuzz_api` makes, for each documented operation, `examples` requests that fit the
document (positive) or break it (negative: wrong types, missing or extra fields, values
out of range), half of them on real cases when the operation names a `case_id`, and
checks every answer: never a 500, never slower than `timeout` seconds (a hang), the
status, content type, headers and body as documented, auth enforced (the request again
without the token is a 401), a request that breaks the document refused. Generation is
derandomized: the same document gives the same requests, so a run is repeatable.

Failures are collected, not raised at the first, so one run lists them all (each with a
curl command to repeat it); `FuzzReport.failures` is empty when all is well.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks as st_checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode

#: Requests per operation in `make test`; `make fuzz` (GM_FUZZ_EXAMPLES) runs more.
DEFAULT_EXAMPLES = 20
#: An answer slower than this is a hang (the test machine is small and shared).
DEFAULT_TIMEOUT = 10.0

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
    st_checks.negative_data_rejection,
    st_checks.ignored_auth,
]


def examples_per_operation() -> int:
    return int(os.environ.get("GM_FUZZ_EXAMPLES") or DEFAULT_EXAMPLES)


@dataclass
class Finding:
    operation: str
    check: str
    message: str
    curl: str
    detail: str = ""

    def __str__(self) -> str:
        return (f"{self.operation}: {self.check}: {self.message}\n    {self.curl}"
                + (f"\n    {self.detail}" if self.detail else ""))


@dataclass
class FuzzReport:
    service: str
    cases: int = 0
    by_operation: Dict[str, int] = field(default_factory=dict)
    statuses: Dict[int, int] = field(default_factory=dict)
    failures: List[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        # one finding per operation and kind of failure: the first example says enough
        if not any((f.operation, f.check, f.message) == (finding.operation, finding.check,
                                                        finding.message)
                   for f in self.failures):
            self.failures.append(finding)

    def figures(self) -> dict:
        return {"service": self.service, "cases": self.cases,
                "operations": len(self.by_operation), "failures": len(self.failures),
                "statuses": dict(sorted(self.statuses.items())),
                "by_operation": self.by_operation}


def _with_known(case, known: Mapping[str, Sequence[str]]):
    """The case, and the case with body fields that name things (a region, a unit) set to
    ones the deployment knows: random codes are only ever refused by the directory."""
    names = [n for n in known if isinstance(case.body, dict) and n in case.body]
    if not names:
        return st.just(case)

    def known_case(values):
        case.body = {**case.body, **dict(zip(names, values))}
        return case

    return st.one_of(st.just(case), st.tuples(*(st.sampled_from(known[n]) for n in names))
                     .map(known_case))


def _strategy(operation, auth: dict, case_ids: Sequence[str],
              known: Mapping[str, Sequence[str]]):
    # The token is fixed, not generated: a negative case breaks the request, not its auth
    # (ignored_auth checks the auth, sending each request again without it).
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    strategies = [operation.as_strategy(generation_mode=mode, headers=auth) for mode in modes]
    if case_ids and "{case_id}" in operation.path:
        # Random ids only ever meet a 404: half the requests go to cases that exist.
        strategies += [operation.as_strategy(generation_mode=mode, headers=auth,
                                             path_parameters={"case_id": case_id})
                       for mode in modes for case_id in case_ids]
    return st.one_of(strategies).flatmap(lambda case: _with_known(case, known))


def fuzz_api(base_url: str, token: str, service: str, *, examples: Optional[int] = None,
             case_ids: Sequence[str] = (), known: Mapping[str, Sequence[str]] = {},
             timeout: float = DEFAULT_TIMEOUT) -> FuzzReport:
    """Fuzz every operation of the service at `base_url` with `token` (bearer); `case_ids`
    are real cases, `known` real values of body fields by name (e.g. region codes)."""
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", headers=auth,
                                           timeout=timeout)
    report = FuzzReport(service)
    count = examples or examples_per_operation()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        report.by_operation[label] = 0

        @settings(max_examples=count, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate],  # collected, so no shrinking
                  suppress_health_check=list(HealthCheck))
        @given(case=_strategy(operation, auth, case_ids, known))
        def run(case):
            report.cases += 1
            report.by_operation[label] += 1
            curl = case.as_curl_command(headers=auth)
            try:
                response = case.call(base_url=base_url, headers=auth, timeout=timeout)
            except requests.Timeout:
                report.add(Finding(label, "timeout", f"no answer within {timeout:.0f}s",
                                   curl))
                return
            except requests.ConnectionError as exc:
                report.add(Finding(label, "connection", type(exc).__name__, curl))
                return
            report.statuses[response.status_code] = \
                report.statuses.get(response.status_code, 0) + 1
            try:
                case.validate_response(response, checks=CHECKS, headers=auth,
                                       transport_kwargs={"base_url": base_url,
                                                         "headers": auth,
                                                         "timeout": timeout})
            except FailureGroup as group:
                for failure in group.exceptions:
                    if not _refused_too_large(failure, response):
                        report.add(_finding(label, failure, response, curl))
            except Failure as failure:
                if not _refused_too_large(failure, response):
                    report.add(_finding(label, failure, response, curl))

        run()
        if operation.body:
            _fuzz_raw_bodies(operation, base_url, auth, case_ids, count, timeout, report)
    return report


def _refused_too_large(failure, response) -> bool:
    """A generated body over the limit refused with 413 (CONTRACT §7, documented on every
    route with a body) is a refusal, though schemathesis' list of refusals leaves it out."""
    return response.status_code == 413 and type(failure).__name__ == "AcceptedNegativeData"


def _surrogates(value):
    """Every string of a JSON value with a lone surrogate (valid JSON: "\\ud800")."""
    if isinstance(value, str):
        return value + "\ud800"
    if isinstance(value, dict):
        return {k: _surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_surrogates(v) for v in value]
    return value


def _raw_bodies():
    """Bodies schemathesis does not send: any bytes, JSON that is not an object, nested
    past any limit, or with lone surrogates (JSON allows them, UTF-8 storage does not)."""
    nested = st.sampled_from([100, 1000, 100_000]).flatmap(lambda n: st.sampled_from(
        [("[" * n + "]" * n).encode(), ('{"a":' * n + "1" + "}" * n).encode()]))
    return st.one_of(st.binary(max_size=2000), nested,
                     st.sampled_from([b"", b"null", b"[]", b'"x"', b"1e999", b"-0",
                                      b'{"a": NaN}', b"\xef\xbb\xbf{}", b"{}" * 2]))


def _fuzz_raw_bodies(operation, base_url, auth, case_ids, count, timeout, report):
    label = operation.label
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE, headers=auth,
                                     **({"path_parameters": {"case_id": case_ids[0]}}
                                        if case_ids and "{case_id}" in operation.path else {}))
    bodies = st.one_of(_raw_bodies().map(lambda raw: (None, raw)),
                       positive.map(lambda case: (case, _surrogates(
                           case.body if isinstance(case.body, (dict, list)) else {}))))

    @settings(max_examples=max(count // 2, 1), derandomize=True, database=None,
              deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=positive, body=bodies,
           content_type=st.sampled_from(["application/json", "text/plain", None]))
    def run(case, body, content_type):
        report.cases += 1
        report.by_operation[label] += 1
        source, payload = body
        data = payload if source is None else json.dumps(payload).encode()
        headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
        url = base_url + case.formatted_path
        curl = f"curl -X {operation.method.upper()} {url} (body {data[:80]!r}...)"
        try:
            response = requests.request(operation.method.upper(), url, data=data,
                                        headers=headers, params=case.query, timeout=timeout)
        except requests.Timeout:
            report.add(Finding(label, "timeout", f"no answer within {timeout:.0f}s", curl))
            return
        report.statuses[response.status_code] = \
            report.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            report.add(Finding(label, "ServerError", "Server error (raw body)", curl,
                               f"{response.status_code}: {response.text[:200]}"))
        elif response.headers.get("Content-Type", "").split(";")[0] != "application/json":
            report.add(Finding(label, "ContentType", "an error that is not JSON", curl))

    run()


def _finding(label: str, failure: Failure, response, curl: str) -> Finding:
    detail = (failure.message or "")[:400]
    if response.status_code >= 500:
        detail = f"{response.status_code}: {response.text[:200]}"
    return Finding(label, type(failure).__name__, failure.title, curl, detail)
