"""Runs a command and prints its peak resident set size in KiB (ru_maxrss of the one child).

Usage: peak_rss.py COMMAND [ARGS...]   (stdout of the command is discarded, its stderr passed on;
the exit status is the command's). Used by graphd's tests to measure memory without timing.
"""
import resource
import subprocess
import sys

result = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
sys.stderr.buffer.write(result.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(result.returncode)
