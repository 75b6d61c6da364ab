"""The epoch ticker every real module's time budget counts on, and Ctrl-C inside a module call.

Main entry point: `ticker.add(module)` (pyfrag.real.module.RealModule does it). One daemon thread
for all modules advances each live module's engine epoch every TICK seconds, so a call's deadline
is counted in ticks, and turns Ctrl-C into an interrupt of the running call: the signal's byte
arrives on a wakeup socket even while the main thread is inside wasm, where Python's own handler
cannot run.
"""

import signal
import socket
import threading
import weakref

TICK = 0.05             # seconds between epoch ticks


class _Ticker:
    """One daemon thread for all modules: advances every live module's engine epoch each
    TICK (a call's deadline is counted in ticks), and turns Ctrl-C into an interrupt
    of the running call: the signal's byte arrives on a wakeup socket even while
    the main thread is inside wasm, where Python's own handler cannot run."""

    def __init__(self):
        self.modules = weakref.WeakSet()
        self.wakeup = None
        self.lock = threading.Lock()
        self.thread = None

    def add(self, module):
        with self.lock:
            self.modules.add(module)
            if self.thread is None:
                self._catch_sigint()
                self.thread = threading.Thread(target=self._run, name="pyfrag-epoch",
                                               daemon=True)
                self.thread.start()

    def _catch_sigint(self):
        if threading.current_thread() is not threading.main_thread():
            return                       # only the main thread may set a wakeup fd
        read, write = socket.socketpair()
        read.setblocking(False)
        write.setblocking(False)
        try:
            old = signal.set_wakeup_fd(write.fileno(), warn_on_full_buffer=False)
        except ValueError:
            return
        if old != -1:                    # someone else's (an event loop): leave it
            signal.set_wakeup_fd(old)
            return
        self.wakeup = (read, write)

    def _run(self):
        import select
        import time
        last = time.monotonic()
        while True:
            sigint = False
            if self.wakeup is None:
                time.sleep(TICK)
            elif select.select([self.wakeup[0]], [], [], TICK)[0]:
                try:
                    sigint = signal.SIGINT in self.wakeup[0].recv(64)
                except BlockingIOError:
                    pass
            # ticks follow the clock, however early a wait returns
            ticks = int((time.monotonic() - last) / TICK)
            last += ticks * TICK
            for module in list(self.modules):
                if sigint:
                    module._interrupted = True
                    ticks = module._budget_ticks + 1
                for _ in range(ticks):
                    module._engine.increment_epoch()


ticker = _Ticker()
