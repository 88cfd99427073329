"""A test trial with one behaviour per mode (the first argument)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

KEYS = ["SWEEPLAB_PARAMS", "SWEEPLAB_TRIAL_ID", "SWEEPLAB_TRIAL_DIR", "SWEEPLAB_MAX_EPOCHS",
        "PYTHONUNBUFFERED", "CUDA_VISIBLE_DEVICES", "PYTHONPATH", "MY_VAR"]


def wait_for(name):
    """Block until the test creates ``name`` in the trial directory."""
    path = Path(os.environ["SWEEPLAB_TRIAL_DIR"]) / name
    while not path.exists():
        time.sleep(0.005)


def idle():
    while True:
        time.sleep(0.01)


mode = sys.argv[1]
out = sys.stdout.buffer
if mode == "env":
    import sweeplab

    doc = {"argv": sys.argv[2:], "cwd": os.getcwd(), "lr": sweeplab.param("optimizer.lr"),
           "sdk": sweeplab.__file__,
           "params": json.loads(Path(os.environ["SWEEPLAB_PARAMS"]).read_text()),
           "env": {key: os.environ.get(key) for key in KEYS}}
    print("ENV " + json.dumps(doc))
elif mode == "wait":
    print("waiting " + os.environ.get("CUDA_VISIBLE_DEVICES", "-"), flush=True)
    wait_for("go")
elif mode == "lines":
    for i in range(300):
        print(f"line {i}")
    sys.stdout.flush()
    wait_for("go")
    for i in range(300, 600):
        print(f"line {i}")
    sys.stdout.write("partial without newline")
    sys.exit(5)
elif mode == "mark":
    Path("mine.txt").write_text("trial-local file")
    with open("trial.py", "a") as f:
        f.write("# changed by one trial\n")
    print("marked", flush=True)
elif mode == "look":
    print("files " + " ".join(sorted(os.listdir("."))))
    print("changed" if Path("trial.py").read_text().endswith("trial\n") else "pristine")
elif mode == "bytes":
    out.write(b"ok \xff\xfe bad\ncaf\xc3\xa9\n\x80")
elif mode == "huge":
    block = b"x" * (1 << 20)
    for _ in range(100):
        out.write(block)
    out.write(b"\nafter\n")
elif mode == "big":
    for start in range(0, 500_000, 10_000):
        out.write(b"".join(b"%07d %s\n" % (i, b"z" * 91) for i in range(start, start + 10_000)))
elif mode == "exit":
    sys.exit(int(sys.argv[2]))
elif mode == "killself":
    os.kill(os.getpid(), signal.SIGKILL)
elif mode == "catch":
    print("ready", flush=True)
    try:
        idle()
    except KeyboardInterrupt:
        print("caught KeyboardInterrupt", flush=True)
        sys.exit(0)
elif mode == "default":
    print("ready", flush=True)
    idle()
elif mode in ("ignore", "ignore-child"):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "ignore":
        subprocess.Popen([sys.executable, __file__, "ignore-child"])
        print("ready", flush=True)
    else:
        print("child ready", flush=True)
    idle()
else:
    sys.exit(f"unknown mode {mode}")
