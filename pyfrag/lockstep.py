"""A real module driven together with its model, so a real run can see free blocks.

Main entry point: `Lockstep(module, model)`, an Allocator-protocol adapter
that `pyfrag.real.replay_real` hands to the replay loop. A real module's free
lists live inside its memory, out of sight; its address-exact model (the
manifest's "model") is replayed beside it, call by call, and stands for the
module's heap layout while it has returned every address and memory size the
module did. So the OOM verdict, free blocks, overhead and discardable pages
of a real run are the model's, checked at every event, and a real run and its
simulation give the same verdict. At the first disagreement the model is
dropped (`diverged` says where) and the run falls back to estimates.
"""


class Lockstep:
    def __init__(self, module, model):
        self.module, self.model = module, model
        self.memory = module.memory
        self.heap_base = module.heap_base
        self.diverged = None          # (call, args, real result, model result) once apart

    def _both(self, op, *args):
        p = getattr(self.module, op)(*args)
        model = self.model
        if model is not None:
            try:
                q = getattr(model, op)(*args)
            except (NotImplementedError, ValueError, KeyError) as e:
                q = e
            if q != p or model.memory.pages != self.memory.pages:
                self.diverged = (op, args, p, q)
                self.model = None
        return p

    def malloc(self, size):
        return self._both("malloc", size)

    def aligned_alloc(self, align, size):
        return self._both("aligned_alloc", align, size)

    def realloc(self, ptr, size):
        return self._both("realloc", ptr, size)

    def free(self, ptr):
        self.module.free(ptr)
        if self.model is not None:
            self.model.free(ptr)

    def spans(self):
        if self.model is None:
            raise NotImplementedError(f"{self.module.name}: its model is not in step")
        return self.model.spans()

    def oom_spans(self):
        if self.model is None:
            raise NotImplementedError(f"{self.module.name}: its model is not in step")
        return getattr(self.model, "oom_spans", self.model.spans)()

    def check(self):
        if self.model is not None:
            self.model.check()
