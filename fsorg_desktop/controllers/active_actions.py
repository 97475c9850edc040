"""Label smarter (issue 9) in the window: label next, suspect labels, apply to look-alikes,
label efficiency curves.

A controller apart from the main window, like :mod:`.sample_actions` and :mod:`.model_actions`:
it checks what a user needs first (a library, features, labels), waits until every label
edit is in the database (the jobs read labels from there), starts an op from
:mod:`fsorg_desktop.ops.active` (a child process) and reports the outcome through signals,
dialogs and the status bar. It never builds the window's views.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from engine.core.jobs import Cancelled, UserError
from engine.core.taxonomy import label_by_name
from fsorg_desktop.jobs import JobState, Pool
from fsorg_desktop.ops import active as active_ops
from fsorg_desktop.ops import models as model_ops
from fsorg_desktop.suspects import SuspectFlag, SuspectSet

if TYPE_CHECKING:
    from fsorg_desktop.controllers.host import Host

LABEL_NEXT_N = 20
MIN_LABELS_FOR_SUSPECTS = 10


def curve_steps(n_labels: int) -> tuple[int, int]:
    """(batch size, labels to replay up to) for the label efficiency curves: the issue's 25 and
    250 once there are enough labels, smaller steps for a user with fewer (the replay keeps a
    fifth of the labels unused so the last point is still scored on something)."""
    batch = 25 if n_labels >= 200 else max(5, n_labels // 8)
    return batch, max(2 * batch, min(250, n_labels - n_labels // 5))


class ActiveActions(QObject):
    sample_generated = Signal(list)  # the "label next" rows (dicts of CSV cells)
    suspects_found = Signal(list)  # SuspectFlag list (may be empty)
    curves_ready = Signal(dict)  # fsorg_desktop.procjob.learning_curves_job's result

    def __init__(
        self,
        host: "Host",
        *,
        suspects: SuspectSet,
        trained_model_path: Callable[[], str | None],
        confirm_replace: Callable[[], bool],
        selected_ids: Callable[[], list[int]],
        just_labelled: Callable[[], int | None] = lambda: None,
    ) -> None:
        super().__init__(host.parent)
        self.h = host
        self.suspects = suspects
        self._trained_model_path = trained_model_path  # the model this session trained, if any
        self.confirm_replace = confirm_replace  # may a new sample replace the one on screen?
        self.selected_ids = selected_ids  # the folders selected in the focused view
        self.just_labelled = just_labelled  # the folder a label key just set, if the cursor has not moved
        self.last_job: JobState | None = None
        self._hint_job: JobState | None = None

    def _ready(self) -> bool:
        st = self.h.state
        if st is None or st.snapshot is None:
            return False
        if not st.has_features:
            self.h.dialogs.message(
                "Features are not ready yet",
                "The model reads the folders' features, which are still being extracted (see the "
                "Jobs panel). Try again when that job has finished.",
            )
            return False
        return True

    def _model_path(self) -> str | None:
        """The model this session trained or predicted with, if it is still there; else None
        (the engine then takes the newest trained model, or the shipped baseline)."""
        path = self._trained_model_path()
        if path and Path(path).is_dir():
            return path
        default = model_ops.default_model_path(self.h.state.settings)
        return str(default) if default.is_dir() else None

    # ------------------------------------------------------------------------- label next
    def label_next(self, n: int = LABEL_NEXT_N) -> JobState | None:
        if not self._ready() or not self.confirm_replace():
            return None
        from engine.core.config import load_config

        try:
            cfg = load_config("generate_samples")
        except UserError as e:
            self.h.dialogs.error("Invalid config", e, "Reading generate_samples.json")
            return None
        settings, snap = self.h.state.settings, self.h.state.snapshot.id
        model = self._model_path()

        def done(rows, error) -> None:
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.h.dialogs.error("No folders were proposed", error, "Choosing the folders to label next")
                return
            if self.h.state is None or self.h.state.snapshot is None or self.h.state.snapshot.id != snap:
                return
            self.sample_generated.emit(rows)
            margins = [float(r.get("margin") or 0) for r in rows]
            fams = sum(1 for r in rows if r.get("family"))
            why = f"; {fams} for look-alike families" if fams else ""
            span = f" (margins {min(margins):.2f}–{max(margins):.2f}{why})" if margins else ""
            self.h.status(f"{len(rows)} folders to label next{span}, most uncertain first.", 15_000)

        box: dict[str, JobState] = {}

        def start() -> None:
            box["job"] = self.last_job = active_ops.label_next_op(
                self.h.runner, settings, snap, done, n=n, model_path=model,
                min_depth=cfg.min_depth, max_depth=cfg.max_depth,
            )

        self.h.labels.when_saved(start)
        return box.get("job")

    # ------------------------------------------------------------------------- suspects
    def find_suspects(self) -> JobState | None:
        if not self._ready():
            return None
        if self.h.labels.count() < MIN_LABELS_FOR_SUSPECTS:
            self.h.dialogs.message(
                "Too few labels to judge",
                f"Finding suspect labels trains a model on most of your labels to judge the rest, so it "
                f"needs at least {MIN_LABELS_FOR_SUSPECTS} labels, several in each of two labels. You have "
                f"{self.h.labels.count()}.",
            )
            return None
        settings = self.h.state.settings

        def done(result, error) -> None:
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.h.dialogs.error("Suspect labels were not checked", error, "Finding suspect labels")
                return
            judged, flagged = result
            flags = [SuspectFlag.from_dict(d) for d in flagged]
            self.suspects.set_suspects(flags)
            self.suspects_found.emit(flags)
            if flags:
                self.h.status(
                    f"{len(flags)} of {judged:,} labels look wrong to a model trained without them: marked ⚠, "
                    "most suspicious first. Relabel with 1–6, or leave the ones you are sure of.",
                    20_000,
                )
            else:
                self.h.status(
                    f"No suspect labels: a model trained without them agrees with all {judged:,} judged labels "
                    "closely enough.",
                    15_000,
                )

        box: dict[str, JobState] = {}

        def start() -> None:
            box["job"] = self.last_job = active_ops.suspects_op(self.h.runner, settings, done)

        self.h.labels.when_saved(start)
        return box.get("job")

    # ------------------------------------------------------------------------- look-alikes
    def apply_to_look_alikes(self, folder_id: int | None = None):
        """Open the preview of ``folder_id``'s look-alikes (default: the selected folder)."""
        if self.h.state is None or self.h.state.snapshot is None:
            return None
        if folder_id is None:
            ids = self.selected_ids()
            # Right after a label key the cursor has moved on to the next folder: Ctrl+L
            # means the folder just labelled, not that one.
            just = self.just_labelled()
            if just is not None:
                ids = [just]
            if not ids:
                self.h.status("Select a labelled folder first.", 8_000)
                return None
            folder_id = ids[0]
        label = self.h.labels.label_of(folder_id)
        if label is None:
            self.h.dialogs.message(
                "Label this folder first",
                "Apply to look-alikes copies a folder's label to its siblings and cousins with the same "
                "name shape. Label the folder with 1–6 first, then press Ctrl+L.",
            )
            return None
        from fsorg_desktop.views.propagate_dialog import PropagateDialog

        dlg = PropagateDialog(self.h.state.settings, folder_id, label, self.h.labels, runner=self.h.runner,
                              parent=self.h.parent)
        dlg.labels_applied.connect(
            lambda ids, lab: self.h.status(
                f"Labelled {len(ids)} look-alike folder{'s' if len(ids) != 1 else ''} "
                f"“{label_by_name(lab).title}”. Ctrl+Z undoes them all.",
                15_000,
            )
        )
        self.h.dialogs.keep(dlg)
        return dlg

    def hint_look_alikes(self, folder_id: int, label: str) -> None:
        """After one folder got a label: if it has look-alikes, say so in the status bar (a
        quick SQL query on a worker; never a dialog, which would interrupt a labelling run)."""
        if self.h.state is None or self.h.state.snapshot is None:
            return
        if self._hint_job is not None:
            self._hint_job.discard()
        settings = self.h.state.settings

        def work(progress, should_stop):
            from engine.active.lookalikes import look_alikes

            return [c for c in look_alikes(settings, folder_id, label=label) if c.suggested]

        def done(found, error) -> None:
            self._hint_job = None
            if error is None and found and self.h.labels.label_of(folder_id) == label:
                self.h.status(
                    f"{len(found)} folder{'s look' if len(found) != 1 else ' looks'} like this one "
                    f"(e.g. {found[0].path}). Press Ctrl+L now to label "
                    f"{'them' if len(found) != 1 else 'it'} “{label_by_name(label).title}” too.",
                    8_000,
                )

        self._hint_job = self.h.runner.run(work, done, pool=Pool.READ)

    # ------------------------------------------------------------------------- curves
    def learning_curves(self) -> JobState | None:
        if not self._ready():
            return None
        settings = self.h.state.settings
        batch, most = curve_steps(self.h.labels.count())

        def done(result, error) -> None:
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.h.dialogs.error("No label efficiency curves", error, "Replaying your labels")
                return
            self.curves_ready.emit(result)

        box: dict[str, JobState] = {}

        def start() -> None:
            box["job"] = self.last_job = active_ops.learning_curves_op(
                self.h.runner, settings, done, batch_size=batch, max_labels=most
            )

        self.h.labels.when_saved(start)
        return box.get("job")
