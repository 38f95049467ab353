"""Schemathesis hooks for spawner's API test (tests/api/openapi.rs): every instance a generated
call could create is named with the run's prefix (so the test's clean-up removes it), on the
test's network, from an image this machine has (nothing is pulled), with each volume at a path
of its own (JSON Schema cannot say that values of a map differ). Schemathesis checks each
case again after these edits, so a case they make valid is judged as valid."""

import os
import re

import schemathesis

PREFIX = os.environ["SPAWNER_ST_PREFIX"]
NETWORK = os.environ["SPAWNER_ST_NETWORK"]
IMAGES = ["mock-app:nohc", "mock-app:latest"]
CREATES = {"/deploy", "/deploy/"}


def _prefixed(raw: str) -> str:
    tail = re.sub(r"[^A-Za-z0-9_-]", "", raw)[:16] or "x"
    return f"{PREFIX}-{tail}"


def _local_image(raw: str) -> str:
    return IMAGES[len(raw) % len(IMAGES)]


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    body = case.body
    if not isinstance(body, dict) or case.method.upper() != "POST":
        return
    path = case.operation.path
    if path in CREATES:
        if isinstance(body.get("name"), str):
            body["name"] = _prefixed(body["name"])
        if isinstance(body.get("network"), str):
            body["network"] = NETWORK
        volumes = body.get("volumes")
        if isinstance(volumes, dict):
            # Each volume at a path of its own: a rule the schema cannot state.
            seen = set()
            for key in list(volumes):
                target = volumes[key]
                if not isinstance(target, str):
                    continue
                if target in seen:
                    del volumes[key]
                seen.add(target)
    if path in CREATES or path.endswith("/recreate"):
        if isinstance(body.get("image"), str):
            body["image"] = _local_image(body["image"])
        if isinstance(body.get("pull_policy"), str):
            body["pull_policy"] = "never"
