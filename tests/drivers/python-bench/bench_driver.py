"""The guest side of the benchmark's Python rows, as tests/drivers/bench
is for Rust: ``create-share`` runs the operation named by the share's name
``OP<U+001F>ITERATIONS`` that many times and returns the loop's time in
nanoseconds as the one export location's path; ``delete-share`` does
nothing, so the host can time a whole call that does no work."""

import time

import manila_driver
from manila_driver import ExportLocation, Invalid


def entity(i):
    """The id of the benchmark's entity ``i``; the host uses the same scheme."""
    return "00000000-0000-4000-8000-%012x" % i


class Bench(manila_driver.ShareDriver):
    def create_share(self, share):
        op, _, n = share.name.partition("\x1f")
        ids = [entity(i) for i in range(int(n))]
        storage = self.private_storage
        start = time.perf_counter_ns()
        if op == "get_one":
            for id in ids:
                storage.get(id, "k2")
        elif op == "update_one":
            for i, id in enumerate(ids):
                storage.update(id, {"k1": "even" if i % 2 == 0 else "odd"})
        else:
            raise Invalid("unknown bench op %r" % op)
        return [ExportLocation(path=str(time.perf_counter_ns() - start), is_admin_only=False)]

    def delete_share(self, share):
        pass


ShareDriver = manila_driver.export(Bench)
