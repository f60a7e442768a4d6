"""Regenerates the gRPC stubs in dario/v1 from proto/; `--check` fails when the committed stubs drift.

Messages get protoc's own .pyi; the service modules (*_pb2_grpc.py) get theirs from mypy-protobuf's
protoc-gen-mypy_grpc plugin (test extra), so mypy checks the stubs, servicers and their callers."""

from __future__ import annotations

import filecmp
import pathlib
import shutil
import sys
import tempfile

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUTPUT = ROOT / "dario" / "v1"


def grpc_stub_plugin() -> str:
    """mypy-protobuf's protoc-gen-mypy_grpc, beside this interpreter or on PATH."""
    beside = pathlib.Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    found = str(beside) if beside.exists() else shutil.which("protoc-gen-mypy_grpc")
    if found is None:
        raise SystemExit("protoc-gen-mypy_grpc not found: pip install -e '.[test]' (it brings mypy-protobuf)")
    return found


def generate(destination: pathlib.Path) -> None:
    """Runs protoc over every .proto file, writing dario/v1/*_pb2*.py and *.pyi under destination."""
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    sources = sorted(str(path.relative_to(PROTO_ROOT)) for path in PROTO_ROOT.rglob("*.proto"))
    arguments = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={destination}",
        f"--pyi_out={destination}",
        f"--grpc_python_out={destination}",
        f"--plugin=protoc-gen-mypy_grpc={grpc_stub_plugin()}",
        f"--mypy_grpc_out=quiet:{destination}",
        *sources,
    ]
    if protoc.main(arguments) != 0:
        raise SystemExit("protoc failed")


def generated_files(folder: pathlib.Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*_pb2*.py*"))


def main() -> int:
    check = "--check" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as scratch:
        scratch_path = pathlib.Path(scratch)
        generate(scratch_path)
        fresh = scratch_path / "dario" / "v1"
        if check:
            names = generated_files(fresh)
            drifted = [name for name in names if not (OUTPUT / name).exists()
                       or not filecmp.cmp(fresh / name, OUTPUT / name, shallow=False)]
            extra = sorted(set(generated_files(OUTPUT)) - set(names))
            if drifted or extra:
                print(f"generated stubs drift from proto/: {drifted + extra}; run python scripts/gen_proto.py")
                return 1
            print("generated stubs match proto/")
            return 0
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for old in generated_files(OUTPUT):
            (OUTPUT / old).unlink()
        for name in generated_files(fresh):
            shutil.copy(fresh / name, OUTPUT / name)
        print(f"wrote {', '.join(generated_files(OUTPUT))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
