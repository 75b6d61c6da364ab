"""A real module driven together with its model, so a real run can see free blocks.

Main entry point: `Lockstep(module, model)`, an Allocator-protocol adapter
that `pyfrag.real.replay_real` hands to the replay loop. A real module's free
lists live inside its memory, out of sight; its address-exact model (the
manifest's "model") is replayed beside it, call by call, and stands for the
module's heap layout while it has returned every address the module did, and
has the memory size the module has whenever its spans are read. So the OOM
verdict, free blocks, overhead and discardable pages of a real run are the
model's, checked at every event, and a real run and its simulation give the
same verdict. At the first disagreement the model is
dropped (`diverged` says where) and the run falls back to estimates.
"""


class Lockstep:
    def __init__(self, module, model):
        self.module, self.model = module, model
        self.memory = module.memory
        self.heap_base = module.heap_base
        self.diverged = None          # (call, args, real result, model result) once apart

    def _check(self, op, args, p, call):
        """The model's answer to the call the module answered with p; dropped if different.
        (Memory sizes are compared whenever the model's spans are asked for.)"""
        try:
            q = call(*args)
        except (NotImplementedError, ValueError, KeyError) as e:
            q = e
        if q != p:
            self._drop(op, args, p, q)
        return p

    def _drop(self, op, args, p, q):
        self.diverged = (op, args, p, q)
        self.model = None

    def malloc(self, size):
        p = self.module.malloc(size)
        return p if self.model is None else self._check("malloc", (size,), p, self.model.malloc)

    def aligned_alloc(self, align, size):
        p = self.module.aligned_alloc(align, size)
        return p if self.model is None else \
            self._check("aligned_alloc", (align, size), p, self.model.aligned_alloc)

    def realloc(self, ptr, size):
        p = self.module.realloc(ptr, size)
        return p if self.model is None else \
            self._check("realloc", (ptr, size), p, self.model.realloc)

    def free(self, ptr):
        self.module.free(ptr)
        if self.model is not None:
            self.model.free(ptr)

    def _in_step(self):
        model = self.model
        if model is not None and model.memory.pages != self.memory.pages:
            self._drop("memory.grow", (), self.memory.pages, model.memory.pages)
        if self.model is None:
            raise NotImplementedError(f"{self.module.name}: its model is not in step")
        return self.model

    def spans(self):
        return self._in_step().spans()

    def oom_spans(self):
        model = self._in_step()
        return getattr(model, "oom_spans", model.spans)()

    def check(self):
        if self.model is not None:
            self.model.check()
