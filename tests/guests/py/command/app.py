"""A wasi:cli command for the tests (componentize-py).

argv[1] picks what it does:
  echo ARGS...      print the arguments, PWD-independent cwd, FOO from the environment, stdin
  files DIR         write DIR/out.txt, append to it, read it back, list DIR, print it all
  exit N            exit with code N (wasi:cli/exit)
  fail              raise (the command's run returns an error)
  sleep SECONDS     sleep (a blocked guest, for stop())
  spin              loop forever in pure Python (a running guest, for stop())
  alloc MIB         allocate MIB mebibytes (for the memory limit)
"""

import os
import sys
import time

from wit_world import exports


class Run(exports.Run):
    def run(self) -> None:
        args = sys.argv[1:]
        what = args[0] if args else "echo"
        if what == "echo":
            print("argv=" + "|".join(sys.argv))
            print("cwd=" + os.getcwd())
            print("FOO=" + os.environ.get("FOO", "-"))
            print("stdin=" + sys.stdin.read())
            print("to stderr", file=sys.stderr)
        elif what == "files":
            d = args[1]
            path = os.path.join(d, "out.txt")
            with open(path, "w") as f:
                f.write("first\n")
            with open(path, "a") as f:
                f.write("second\n")
            with open(path) as f:
                print("content=" + f.read().replace("\n", ";"))
            print("listing=" + ",".join(sorted(os.listdir(d))))
        elif what == "exit":
            sys.stdout.flush()
            os._exit(int(args[1]))
        elif what == "fail":
            raise RuntimeError("the command failed")
        elif what == "sleep":
            print("sleeping", flush=True)
            time.sleep(float(args[1]))
        elif what == "spin":
            print("spinning", flush=True)
            n = 0
            while True:
                n += 1
        elif what == "alloc":
            blocks = [bytearray(1 << 20) for _ in range(int(args[1]))]
            print(f"allocated {len(blocks)} MiB")
        sys.stdout.flush()
