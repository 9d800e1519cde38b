"""Runs Argo CD custom health checks the way Argo CD does: for every test case of
health_test.yaml, load the testdata object, run health.lua in Lua 5.1 (Argo CD embeds
gopher-lua, a Lua 5.1) with the global `obj` set, and compare status and message.

usage: python argocd_health.py DIR...   (DIR holds health.lua, health_test.yaml, testdata/)
"""

import sys
from pathlib import Path

import yaml
from lupa import lua51


def to_lua(lua, value):
    """JSON-like Python value -> Lua value (lists become 1-based sequences, as in Argo CD)."""
    if isinstance(value, dict):
        return lua.table_from({k: to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, v) for v in value])
    return value


def run_check(script: str, obj: dict) -> tuple[str, str]:
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = to_lua(lua, obj)
    result = lua.execute(script)
    if result is None:
        raise AssertionError("health.lua returned nothing")
    return result["status"], result["message"] or ""


def check_dir(directory: Path) -> tuple[int, int]:
    script = (directory / "health.lua").read_text()
    tests = yaml.safe_load((directory / "health_test.yaml").read_text())["tests"]
    passed = failed = 0
    covered = set()
    for case in tests:
        path = directory / case["inputPath"]
        covered.add(path.resolve())
        obj = yaml.safe_load(path.read_text())
        want = case["healthStatus"]
        status, message = run_check(script, obj)
        ok = status == want["status"] and message == want.get("message", "")
        if ok:
            passed += 1
            print(f"  ok   {case['inputPath']}: {status}")
        else:
            failed += 1
            print(
                f"  FAIL {case['inputPath']}: got {status!r} {message!r}, "
                f"want {want['status']!r} {want.get('message', '')!r}"
            )
    for extra in sorted((directory / "testdata").glob("*.yaml")):
        if extra.resolve() not in covered:
            failed += 1
            print(f"  FAIL {extra.name}: testdata without a test case in health_test.yaml")
    return passed, failed


def main() -> int:
    total_passed = total_failed = 0
    for d in sys.argv[1:]:
        p, f = check_dir(Path(d))
        total_passed += p
        total_failed += f
    print(f"argocd health: {total_passed} passed, {total_failed} failed")
    return 1 if total_failed or not total_passed else 0


if __name__ == "__main__":
    sys.exit(main())
