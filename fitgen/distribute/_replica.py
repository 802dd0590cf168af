"""Entry point of one multi_gpu_model replica process: `python -m fitgen.distribute._replica ...`.

Kept apart from multi_gpu.py so that running it as __main__ does not re-execute a module the package
already imported.
"""
import sys

from fitgen.distribute import multi_gpu


def _replica_entry(argv):
    rank, gpu_ids, port, device_type, payload_path, result_path, main_path = argv
    if main_path:  # the payload needs objects defined in the user's script: import it as multiprocessing does
        import runpy
        import types
        module = types.ModuleType("__mp_main__")
        module.__dict__.update(runpy.run_path(main_path, run_name="__mp_main__"))
        sys.modules["__main__"] = sys.modules["__mp_main__"] = module
    gpu_ids = [int(i) for i in gpu_ids.split(",")]
    with open(payload_path, "rb") as f:
        payload = f.read()
    multi_gpu._replica_main(int(rank), len(gpu_ids), gpu_ids, int(port), payload, device_type, result_path)


if __name__ == "__main__":
    _replica_entry(sys.argv[1:])
