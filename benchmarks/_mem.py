"""Peak resident memory of this process.

Uses VmHWM from /proc/self/status: it belongs to the address space created by exec, whereas
getrusage's ru_maxrss survives exec and so reports the *parent's* peak in a freshly spawned child.
"""
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
