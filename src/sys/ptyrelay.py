# A terminal for a command the lab runs (src/sys/terminal.ts starts it; never a shell): it holds
# the master side of a pseudo-terminal, copies its own stdin to the master and the master to its
# stdout, applies window sizes read as "COLS ROWS" lines from fd 3 (ioctl TIOCSWINSZ on the
# master: the kernel then sends SIGWINCH to the terminal's foreground process group), and exits
# with the command's status (128+N when signal N ended it, as a shell reports it).
#
# Where the master comes from:
#   --console-socket PATH  from the command: `runc exec --detach --tty --console-socket PATH`
#                          makes the pty inside the container and sends its master over this
#                          AF_UNIX socket (SCM_RIGHTS), as it does to containerd's shim. Node
#                          cannot receive a descriptor, hence this program.
#   --new-pty              a pty of its own, the command started on its slave as its
#                          controlling terminal (how the tests give kubectl a terminal).
# --pid-file PATH: the command (runc exec --detach) exits once the process it started runs;
#   that process, named in PATH, is what is waited for. This program is a child subreaper
#   (PR_SET_CHILD_SUBREAPER), as containerd's shim is, so the process becomes its child when runc
#   exits and its exit status can be read.
# --process PATH: runc's process.json; the first window size is written into its consoleSize
#   before runc starts, so the command starts at the right size (runc sizes the pty before it
#   execs the command; a size applied afterwards races with the command's first look at it).
# --wait-size MS: how long to wait for that first size before starting the command anyway.
#
# On SIGTERM (the client went away) the master is closed: a hangup, SIGHUP to the command as a
# terminal closing sends; a command still there a second later is killed.
import ctypes
import errno
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time

PR_SET_CHILD_SUBREAPER = 36
HANGUP_GRACE_S = 1.0
# After the command exited: output still in the pty is read until it has been quiet this long.
DRAIN_QUIET_S = 0.1


def fail(message):
    sys.stderr.write(f"ptyrelay: {message}\n")
    sys.exit(126)


def parse_args(argv):
    opts = {"console_socket": None, "new_pty": False, "pid_file": None, "process": None, "wait_size": 0.0}
    i = 0
    while i < len(argv) and argv[i] != "--":
        flag = argv[i]
        if flag == "--new-pty":
            opts["new_pty"] = True
            i += 1
            continue
        if i + 1 >= len(argv):
            fail(f"{flag} needs a value")
        value = argv[i + 1]
        if flag == "--console-socket":
            opts["console_socket"] = value
        elif flag == "--pid-file":
            opts["pid_file"] = value
        elif flag == "--process":
            opts["process"] = value
        elif flag == "--wait-size":
            opts["wait_size"] = int(value) / 1000
        else:
            fail(f"unknown option {flag}")
        i += 2
    command = argv[i + 1 :]
    if not command:
        fail("no command after --")
    if opts["new_pty"] == (opts["console_socket"] is not None):
        fail("one of --new-pty and --console-socket")
    if opts["console_socket"] and not opts["pid_file"]:
        fail("--console-socket needs --pid-file")
    return opts, command


class Sizes:
    """Window sizes from fd 3, the last one kept until there is a master to apply it to."""

    def __init__(self):
        try:
            os.set_blocking(3, False)
            self.fd = 3
        except OSError:
            self.fd = None
        self.partial = b""
        self.last = None

    def read(self):
        """Reads what is there; False once the writer has closed it."""
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return True
        if not data:
            os.close(self.fd)
            self.fd = None
            return False
        *lines, self.partial = (self.partial + data).split(b"\n")
        for line in lines:
            parts = line.split()
            if len(parts) == 2 and all(p.isdigit() for p in parts):
                cols, rows = int(parts[0]), int(parts[1])
                if 0 < cols < 65536 and 0 < rows < 65536:
                    self.last = (cols, rows)
        return True

    def apply(self, master):
        if self.last and master is not None:
            cols, rows = self.last
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def wait_first_size(sizes, seconds):
    deadline = time.monotonic() + seconds
    while sizes.fd is not None and sizes.last is None:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sizes.fd], [], [], left)[0]:
            return
        sizes.read()


def exit_status(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class Children:
    """Exits of this process's children (SIGCHLD wakes the select loop through a pipe)."""

    def __init__(self):
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.status = {}

    def reap(self):
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.status[pid] = exit_status(status)


def receive_master(listener, runc_pid, children, sizes):
    """The master runc sends on the console socket, or None when runc exited without sending one."""
    while True:
        fds = [listener, children.wake_r] + ([sizes.fd] if sizes.fd is not None else [])
        ready = select.select(fds, [], [])[0]
        if sizes.fd in ready:
            sizes.read()
        if listener in ready:
            conn, _ = listener.accept()
            with conn:
                _, fds_got, _, _ = socket.recv_fds(conn, 4096, 1)
            if fds_got:
                return fds_got[0]
        if children.wake_r in ready:
            children.reap()
            if runc_pid in children.status:
                return None


def start_new_pty(command, sizes):
    master, slave = os.openpty()
    sizes.apply(master)

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    child = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, preexec_fn=controlling_terminal, close_fds=True)
    os.close(slave)
    return master, child


class Hangup:
    """SIGTERM (the client went away): the time it came, or None."""

    at = None

    @classmethod
    def listen(cls):
        signal.signal(signal.SIGTERM, lambda *_: cls.request())

    @classmethod
    def request(cls):
        if cls.at is None:
            cls.at = time.monotonic()


def relay(master, children, sizes, pid):
    """Copies stdin -> master and master -> stdout until `pid` has exited; returns its status."""
    os.set_blocking(master, False)
    stdin_open = True
    pending = b""
    while True:
        children.reap()
        if pid in children.status:
            break
        if Hangup.at is not None:
            if master is not None:
                os.close(master)
                master = None
            if time.monotonic() - Hangup.at > HANGUP_GRACE_S:
                os.kill(pid, signal.SIGKILL)  # still this process's child: the pid cannot be reused
        reads = [children.wake_r]
        if master is not None:
            reads.append(master)
            if stdin_open and not pending:
                reads.append(0)
        if sizes.fd is not None:
            reads.append(sizes.fd)
        writes = [master] if master is not None and pending else []
        r, w, _ = select.select(reads, writes, [], 0.2 if Hangup.at is not None else None)
        if sizes.fd in r:
            sizes.read()
            sizes.apply(master)
        if 0 in r:
            data = os.read(0, 65536)
            if data:
                pending += data
            else:
                stdin_open = False
        if master in w:
            try:
                pending = pending[os.write(master, pending) :]
            except BlockingIOError:
                pass
        if master in r and not copy_out(master):
            # EIO: no process holds the slave any more; the exit follows.
            os.close(master)
            master = None
    if master is not None:
        drain(master)
    return children.status[pid]


def copy_out(master):
    """One read from the master to stdout; False at the end (EIO: the slave's last holder is gone)."""
    try:
        data = os.read(master, 65536)
    except BlockingIOError:
        return True
    except OSError as e:
        if e.errno == errno.EIO:
            return False
        raise
    if not data:
        return False
    try:
        os.write(1, data)
    except BrokenPipeError:
        Hangup.request()
    return True


def drain(master):
    while select.select([master], [], [], DRAIN_QUIET_S)[0]:
        if not copy_out(master):
            return


def main():
    opts, command = parse_args(sys.argv[1:])
    Hangup.listen()
    sizes = Sizes()
    children = Children()
    wait_first_size(sizes, opts["wait_size"])

    if opts["new_pty"]:
        master, child = start_new_pty(command, sizes)
        sys.exit(relay(master, children, sizes, child.pid))

    if opts["process"] and sizes.last:
        with open(opts["process"]) as f:
            process = json.load(f)
        cols, rows = sizes.last
        process["consoleSize"] = {"height": rows, "width": cols}
        with open(opts["process"], "w") as f:
            json.dump(process, f)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(opts["console_socket"])
        listener.listen(1)
        runc = subprocess.Popen(command, stdin=subprocess.DEVNULL, close_fds=True)
        master = receive_master(listener, runc.pid, children, sizes)
    finally:
        listener.close()
        try:
            os.unlink(opts["console_socket"])
        except FileNotFoundError:
            pass
    if master is None:
        sys.exit(children.status[runc.pid])
    sizes.apply(master)
    # runc exec --detach exits 0 once the process runs, its pid in the pid file.
    while runc.pid not in children.status:
        select.select([children.wake_r], [], [])
        children.reap()
    if children.status[runc.pid] != 0:
        os.close(master)
        sys.exit(children.status[runc.pid])
    with open(opts["pid_file"]) as f:
        pid = int(f.read().strip())
    sys.exit(relay(master, children, sizes, pid))


if __name__ == "__main__":
    main()
