"""Step back and forth in a notebook: relocations one at a time, and a module's code one
instruction at a time, with the pictures of :mod:`emulator.views`.

    RelocationPlayer(stepper)        goto(n), step(), back(), run_to(section): the stepper's
                                     own moves; view() is the step's table and arrow picture
    record(dbg, first_stop)          every stop of the execution stepper from first_stop until
                                     the call returns, each a views.CpuView snapshot
    StepPlayer(recording)            goto(n), step(), back(), run_to(what) over a recording
    EventRecorder(kernel, functions) which module code ran when, over simulated time
                                     (timeline() draws it)
    CallRecorder(kernel, functions)  calls from a user program into a module and back
                                     (sequence() draws them)

Each player's ``widget()`` is the same thing with ipywidgets (a slider, step/back buttons and
a "run to" list) when ipywidgets is installed (``pip install -e '.[notebooks]'``);
:func:`have_widgets` says whether it is. Without it, or on GitHub, the players' views are
the same pictures, shown one by one.

Execution is recorded, not stepped live, because a CPU cannot run backwards: ``back`` on a
recording is one snapshot earlier, and the slider can jump anywhere.
"""

from . import views


def have_widgets():
    """Whether ipywidgets can be imported (the players' widget() needs it)."""
    try:
        __import__("ipywidgets")
    except ImportError:
        return False
    return True


def _widgets():
    try:
        import ipywidgets
    except ImportError as exc:
        raise ImportError("the interactive players need ipywidgets: "
                          "pip install -e '.[notebooks]'") from exc
    return ipywidgets


class _Player:
    """A position over ``len(self)`` places, moved by goto; ``widget()`` drives it."""

    def __len__(self):
        raise NotImplementedError

    position = 0

    def goto(self, n):
        raise NotImplementedError

    def view(self):
        raise NotImplementedError

    def targets(self):
        """``(label, position)`` pairs for the widget's "run to" list."""
        return []

    def step(self):
        return self.goto(min(self.position + 1, len(self) - 1 if self._zero_based else len(self)))

    def back(self):
        return self.goto(max(self.position - 1, 0))

    _zero_based = False

    def widget(self):
        """The player as ipywidgets: a slider over the positions, back/step buttons, a "run
        to" list, and the current view below them."""
        w = _widgets()
        from IPython.display import display

        last = len(self) - 1 if self._zero_based else len(self)
        slider = w.IntSlider(value=self.position, min=0, max=max(last, 0), description="step",
                             continuous_update=False, layout=w.Layout(width="60%"))
        back = w.Button(description="\u25c0 back", layout=w.Layout(width="90px"))
        step = w.Button(description="step \u25b6", layout=w.Layout(width="90px"))
        options = [("run to...", -1)] + [(label, pos) for label, pos in self.targets()]
        run_to = w.Dropdown(options=options, value=-1, layout=w.Layout(width="320px"))
        out = w.Output()

        def show(_=None):
            self.goto(slider.value)
            out.clear_output(wait=True)
            with out:
                display(self.view())

        def move(delta):
            slider.value = max(0, min(last, slider.value + delta))

        def chosen(change):
            if change["new"] is not None and change["new"] >= 0:
                slider.value = change["new"]
                run_to.value = -1

        slider.observe(show, names="value")
        back.on_click(lambda _: move(-1))
        step.on_click(lambda _: move(1))
        run_to.observe(chosen, names="value")
        show()
        return w.VBox([w.HBox([back, step, slider, run_to]), out])


# ============================================================================ relocations

class RelocationPlayer(_Player):
    """A :class:`~linker.load.stepper.RelocationStepper` moved to any position: forward by
    its ``step()``, backward by its ``back()`` (which puts the saved bytes back). Position
    ``n`` means ``n`` relocations applied; the view is the last one's table and picture."""

    def __init__(self, stepper):
        self.stepper = stepper

    def __len__(self):
        return len(self.stepper)

    @property
    def position(self):
        return self.stepper.position

    def goto(self, n):
        st = self.stepper
        while st.position > n:
            st.back()
        while st.position < n and not st.done:
            st.step()
        return self.view()

    def run_to(self, section_name):
        """From the start, apply relocations up to the first one that patches
        ``section_name`` (the stepper's run_to), then apply that one too."""
        self.goto(0)
        self.stepper.run_to(section_name)
        return self.goto(self.stepper.position + 1)

    def targets(self):
        out, start = [], 0
        for rel_section, target, count in self.stepper.plan():
            if count:
                out.append((f"{target} ({rel_section}, {count})", start + 1))
            start += count
        return out

    def view(self):
        step = self.stepper.current
        if step is None:
            return views.Picture(views.layout_map(self.stepper.lm).svg(),
                                 f"{self.stepper!r}: nothing applied yet")
        return views.relocation_step(step)

    def picture(self):
        """Only the arrow picture of the current relocation (None before the first)."""
        step = self.stepper.current
        if step is None or not step.applied:
            return None
        return views.picture(views.relocation_arrow(step))


# ============================================================================ execution

class Recording(list):
    """The :class:`~emulator.views.CpuView` of every stop, in order; ``finished`` is what
    the debugger returned at the end (Finished, or the last Stop when the limit was hit)."""

    finished = None


def record(dbg, first_stop, limit=500, stack_words=6):
    """Step ``dbg`` from ``first_stop`` (what ``start_insmod`` returned) one instruction at
    a time until the call returns to its caller in the kernel, or ``limit`` stops; each
    stop's CPU becomes a snapshot. Breakpoints set on kernel functions (``_printk``) stop
    the steps there too: the call entered, then the step after it returned."""
    rec = Recording()
    stop = first_stop
    previous = None
    while stop is not None and getattr(stop, "reason", None) not in (None, "finished"):
        if not hasattr(stop, "pc"):
            break
        snap = views.cpu_view(dbg, previous, stack_words)
        rec.append(snap)
        previous = snap
        if len(rec) >= limit:
            break
        stop = dbg.step()
    rec.finished = stop
    return rec


class StepPlayer(_Player):
    """Over a :class:`Recording`: position ``n`` is its ``n``-th stop (from 0)."""

    _zero_based = True

    def __init__(self, recording):
        if not recording:
            raise ValueError("nothing was recorded")
        self.recording = recording
        self.position = 0

    def __len__(self):
        return len(self.recording)

    def goto(self, n):
        self.position = max(0, min(n, len(self.recording) - 1))
        return self.view()

    def run_to(self, what):
        """Forward to the next stop whose headline holds ``what`` (``_printk``, ``returned``,
        ``+0x26``); stays put when none does."""
        for n in range(self.position + 1, len(self.recording)):
            if what in self.recording[n].headline:
                return self.goto(n)
        return self.view()

    def targets(self):
        return [(f"{n}: {snap.headline[:60]}", n) for n, snap in enumerate(self.recording)
                if snap.reason != "step" or n == 0]

    def view(self):
        return views.picture(self.recording[self.position])

    def snapshot(self):
        return self.recording[self.position]


__all__ = ["have_widgets", "RelocationPlayer", "Recording", "record", "StepPlayer"]


# ============================================================================ deferred work

# the kernel function each kind of deferred code returns into (emulator.sched.RETURN_SITES)
CONTEXTS = {"do_one_initcall": "module", "process_one_work": "work",
            "call_timer_fn": "timer", "kthread": "kthread"}


class EventRecorder:
    """Which module code ran when, over simulated time: a debugger on ``kernel`` stops at
    each of ``functions`` (module functions, or kernel ones such as ``msleep``), notes the
    time, the task and the context it runs in (init, a work item, a timer's softirq, a
    kthread, from the kernel frame the call returns into), and goes on at once.

    ``events`` are :class:`emulator.views.Event` in milliseconds from the recorder's start;
    ``mark`` and ``span`` add what Python did (an insmod, a sleep); ``timeline()`` draws
    them. ``detach()`` takes the debugger off the kernel."""

    def __init__(self, kernel, functions):
        from .debugger import Debugger
        self.kernel = kernel
        self.start_ns = self.now_ns()
        self.events = []
        self.dbg = Debugger(kernel, controller=self._stopped)
        for name in functions:
            self.dbg.break_at(name)

    def now_ns(self):
        return self.kernel.time.monotonic_ns()

    def ms(self, ns=None):
        return ((self.now_ns() if ns is None else ns) - self.start_ns) / 1e6

    def _task(self):
        current = getattr(self.kernel.sched, "current", None)
        task = current() if callable(current) else current
        return getattr(task, "comm", "?")

    def _stopped(self, stop):
        frames = [f.where for f in self.dbg.backtrace().frames]
        outer = frames[-1].split("+")[0] if frames else ""
        kind = CONTEXTS.get(outer, "other")
        lane = {"timer": "timer softirq", "module": f"{self._task()} (init)"}.get(
            kind, self._task())
        name = stop.where.split(" [")[0]
        if len(frames) > 1 and "[" not in frames[0]:      # a kernel function: say who called
            name = f"{name} ({frames[1].split(' [')[0].split('+')[0]})"
        self.events.append(views.Event(lane, self.ms(), None, name, kind))
        return "cont"

    def mark(self, label, lane="python", kind="other"):
        self.events.append(views.Event(lane, self.ms(), None, label, kind))

    def span(self, lane, start_ms, end_ms, label, kind="other"):
        self.events.append(views.Event(lane, start_ms, end_ms, label, kind))

    def timeline(self, title=""):
        return views.Timeline(self.events, title, unit="ms")

    def detach(self):
        # every breakpoint out first: Debugger.detach's own loop deletes them one by one,
        # which (debugger.py as it stands) fails once there is more than one
        self.dbg.delete()
        self.dbg.detach()


__all__ += ["EventRecorder"]


# ============================================================================ calls

class CallRecorder:
    """Calls into a module's code and back, as :func:`emulator.views.sequence` draws them:
    a debugger on ``kernel`` stops at each of ``functions`` (the module's file operations,
    and kernel functions they call such as ``_copy_from_user``), lets each run to its end
    and notes the call and the value it returned. ``entries`` names what led the kernel to
    a module function (``{"clab_write": "write(2)"}``): that call is drawn from the user
    program, and the return to it (its value is the kernel's: open(2) returns a descriptor
    where the module's open returned 0)."""

    def __init__(self, kernel, functions, entries=None, module="module",
                 user="user program", kern="kernel"):
        from .debugger import Debugger
        self.entries = dict(entries or {})
        self.lanes = (user, kern, module)
        self.messages = []
        self._stack = []
        self.dbg = Debugger(kernel, controller=self._stopped)
        for name in functions:
            self.dbg.break_at(name)

    def _stopped(self, stop):
        user, kern, mod = self.lanes
        if stop.reason == "breakpoint":
            name = stop.where.split(" [")[0]
            in_module = "[" in stop.where
            if in_module and name in self.entries:
                self.messages.append((user, kern, self.entries[name], "call"))
            self.messages.append((kern, mod, name, "call") if in_module
                                 else (mod, kern, name, "call"))
            self._stack.append((name, in_module))
            return "finish"
        if stop.reason in ("finish", "returned") and self._stack:
            name, in_module = self._stack.pop()
            value = stop.value if stop.value is not None else 0
            shown = str(value - (1 << 64) if value >> 63 else value)
            if in_module:
                self.messages.append((mod, kern, f"{name} returns {shown}", "return"))
                if name in self.entries:      # what the syscall returns is the kernel's to say
                    self.messages.append((kern, user, f"{self.entries[name]} returns",
                                          "return"))
            else:
                self.messages.append((kern, mod, f"returns {shown}", "return"))
        return "finish" if self._stack else "cont"

    def sequence(self, title=""):
        return views.sequence(self.lanes, self.messages, title)

    def detach(self):
        self.dbg.delete()       # see EventRecorder.detach
        self.dbg.detach()


__all__ += ["CallRecorder"]
