"""Helpers shared by the benchmark scripts: machine description and peak memory.

Peak memory uses VmHWM from /proc/self/status: it belongs to the address space created by exec, whereas
getrusage's ru_maxrss survives exec and so reports the *parent's* peak in a freshly spawned child.
"""
import platform
import resource


def peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux: best effort


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (platform's guess elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
