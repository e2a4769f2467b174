"""Start one measured process from a small process, and report its own peak RSS.

    python -I -S bench/launch.py REPORT PROGRAM [ARG ...]

Linux keeps a process's peak RSS across ``exec``, and a process started by ``vfork`` (as
``subprocess`` does) begins with its parent's peak: measured straight from the bench's
process, every program would seem to need at least as much memory as the bench itself had
ever used (30 MiB after its imports, hundreds after handling an archive in memory). So
this script, a bare interpreter of a few MiB that imports nothing, forks the program,
waits for it with ``wait4`` and writes ``seconds max_rss_bytes cpu_seconds exit_code`` to
the file REPORT. The time is from just before the fork to the program's end (this
script's own start-up is not in it). Standard streams, working directory and environment
pass through unchanged.

What this costs: a fork of this small process takes about 1 ms more than a ``vfork``, and
a program's peak RSS cannot read below what the fork leaves it (about 5 MiB; a bare
``python -c pass`` is 8.6 MiB).
"""

import os
import sys
import time


def main() -> None:
    report, *argv = sys.argv[1:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: become the program
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"launch: cannot run {argv[0]}: {exc}\n".encode())
        os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    with open(report, "w") as out:
        cpu = usage.ru_utime + usage.ru_stime
        out.write(f"{seconds!r} {usage.ru_maxrss * 1024} {cpu!r} {code}\n")


if __name__ == "__main__":
    main()
