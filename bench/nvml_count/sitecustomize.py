"""Counts every pynvml function call of the process it is loaded in (bench/peer_load.py puts
this folder on PYTHONPATH), and writes the count to $NVML_COUNT_FILE once a second."""

import os
import threading
import time

_path = os.environ.get("NVML_COUNT_FILE")
if _path:
    import pynvml

    _calls = [0]

    def _counted(function):
        def call(*args, **kwargs):
            _calls[0] += 1
            return function(*args, **kwargs)

        return call

    for _name in dir(pynvml):
        _value = getattr(pynvml, _name)
        if _name.startswith("nvml") and callable(_value) and not isinstance(_value, type):
            setattr(pynvml, _name, _counted(_value))

    def _write() -> None:
        while True:
            with open(_path, "w") as out:
                out.write(str(_calls[0]))
            time.sleep(1)

    threading.Thread(target=_write, daemon=True, name="nvml-count").start()
