#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and answers its prompts, like `expect`.

Usage: PTY_ANSWERS='a\nb' [PTY_ENTER='\r'] pty_drive.py PROMPT [PROMPT...] -- COMMAND [ARGS...]
Each answer is typed only once its prompt has appeared, so it arrives after the program
has turned echo off. Everything the terminal showed is written to stdout; the exit code
is the command's. Test support only (graphd's tests of its no-echo prompts).
"""
import os
import pty
import select
import sys
import time

sep = sys.argv.index("--")
prompts = [p.encode() for p in sys.argv[1:sep]]
command = sys.argv[sep + 1:]
# The key that ends an answer: "\n" for a Unix terminal; PTY_ENTER="\r" for a Windows console
# program under Wine, whose console reads Enter as a carriage return.
enter = os.environ.pop("PTY_ENTER", "\n").encode()
answers = [a.encode() + enter for a in os.environ.pop("PTY_ANSWERS", "").split("\n")]

pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)

seen = b""
pending = list(zip(prompts, answers))
deadline = time.time() + 60
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    if pending and pending[0][0] in seen:
        prompt, answer = pending.pop(0)
        seen = seen.replace(prompt, prompt.replace(b":", b"\x00:"), 1)  # count each prompt once
        time.sleep(0.2)
        os.write(fd, answer)
sys.stdout.buffer.write(seen.replace(b"\x00", b""))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
