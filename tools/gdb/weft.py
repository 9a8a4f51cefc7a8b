# weft.py: gdb commands for weft's fibers (after Go's runtime-gdb.py).
#
#   (gdb) source tools/gdb/weft.py
#   (gdb) weft fibers            every live fiber: id, state, wait reason, name, creation site
#   (gdb) weft bt ID             backtrace of fiber ID (parked or runnable: walked from its
#                                saved context; running: use `thread N` + `bt` instead)
#
# How it works. Every G ever allocated is on the runtime's registry list
# (runtime/src/registry.cpp, g_list; G::allg_next links them). A fiber that is not running
# was switched out by Boost.Context's jump_fcontext, which left the callee-saved registers
# on the fiber's stack at G::ctx.fctx (x86-64 SysV layout: +0x08 r12, +0x10 r13, +0x18 r14,
# +0x20 r15, +0x28 rbx, +0x30 rbp, +0x38 return address; the stack pointer after the
# return is fctx + 0x40). `weft bt` points the selected thread's registers at that frame,
# prints gdb's own backtrace (with source lines and arguments), and puts them back -- so it
# needs a live process (a core file's registers cannot be written), like Go's
# `goroutine N bt`. Needs the runtime built with debug info (every build type is).
import gdb



def _registry_head():
    for name in ("'weft::detail::(anonymous namespace)::g_list'", "weft::detail::g_list"):
        try:
            return gdb.parse_and_eval(name)["head"]
        except gdb.error:
            continue
    raise gdb.GdbError("weft: no fiber registry in this program (not linked with weft, "
                       "or built without debug info)")


def _enum(v):
    # std::atomic<Enum> holds its value in _M_i (libstdc++); gdb names the enumerator
    # ("weft::detail::GStatus::waiting"), so these names never drift from the C++.
    return str(v["_M_i"]).split("::")[-1].replace("_", " ")


def _string(v):
    p = v["_M_dataplus"]["_M_p"]
    n = int(v["_M_string_length"])
    return p.string(length=n) if n else ""


def _site(g):
    impl = g["site"]["_M_impl"]
    if int(impl) == 0:
        return "?"
    fn = impl["_M_function_name"].string()
    return "%s:%d (%s)" % (impl["_M_file_name"].string(), int(impl["_M_line"]), fn)


def fibers():
    """Yields (id, status, wait reason, name, creation site, G value) of live fibers."""
    g = _registry_head()
    while int(g) != 0:
        status = _enum(g["status"])
        if status not in ("idle", "dead"):
            why = _enum(g["wait_reason"])
            why = "" if why == "none" else why
            yield int(g["id"]), status, why, _string(g["name"]), _site(g), g
        g = g["allg_next"]


class WeftCommand(gdb.Command):
    """Commands for weft fibers: weft fibers, weft bt ID."""

    def __init__(self):
        super().__init__("weft", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


class WeftFibers(gdb.Command):
    """List every live weft fiber: id, state, wait reason, name and where it was started."""

    def __init__(self):
        super().__init__("weft fibers", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        n = 0
        for fid, status, why, name, site, _ in sorted(fibers(), key=lambda f: f[0]):
            state = status + (" (%s)" % why if status == "waiting" and why else "")
            print("%6d  %-28s %-20s created at %s" % (fid, state, name or "-", site))
            n += 1
        print("%d fibers" % n)


class WeftBacktrace(gdb.Command):
    """Backtrace of a parked or runnable weft fiber: weft bt ID [bt options]."""

    def __init__(self):
        super().__init__("weft bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if not args:
            raise gdb.GdbError("usage: weft bt FIBER-ID [bt options]")
        want = int(args[0])
        for fid, status, why, name, site, g in fibers():
            if fid != want:
                continue
            if status in ("running", "syscall"):
                raise gdb.GdbError("fiber %d is %s on a thread: select that thread "
                                   "(info threads) and use bt" % (fid, status))
            fctx = int(g["ctx"]["fctx"])
            if fctx == 0:
                raise gdb.GdbError("fiber %d has no saved context" % fid)
            print("fiber %d \"%s\" [%s]:" % (fid, name, why or status))
            self._bt_at(fctx, " ".join(args[1:]))
            return
        raise gdb.GdbError("no live fiber %d (weft fibers lists them)" % want)

    @staticmethod
    def _bt_at(fctx, options):
        u64 = gdb.lookup_type("unsigned long").pointer()
        word = lambda off: int(gdb.Value(fctx + off).cast(u64).dereference())
        regs = {"r12": word(0x08), "r13": word(0x10), "r14": word(0x18), "r15": word(0x20),
                "rbx": word(0x28), "rbp": word(0x30), "rip": word(0x38), "rsp": fctx + 0x40}
        gdb.execute("frame 0", to_string=True)
        saved = {r: int(gdb.parse_and_eval("$" + r)) for r in regs}
        try:
            for r, v in regs.items():
                gdb.execute("set $%s = %d" % (r, v), to_string=True)
            gdb.execute("bt " + options)
        finally:
            for r, v in saved.items():
                gdb.execute("set $%s = %d" % (r, v), to_string=True)


WeftCommand()
WeftFibers()
WeftBacktrace()
