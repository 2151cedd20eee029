"""One run against one target: the :class:`Publisher` session the commands drive.

Built once from (config, target, store, clock), it owns the decisions every
command used to re-make: whether the store honours conditional writes (asked
once), who holds the lease, and the time. Commands parse their arguments into
settings, call it, and print.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from artreg.config import Config, Target
from artreg.publish.apply import ApplySettings, Prepared, prepare, publish
from artreg.publish.lease import default_holder
from artreg.publish.reconcile import Job, Report
from artreg.publish.state import TargetState, read_state
from artreg.render.progress import Progress
from artreg.stores.base import Store

if TYPE_CHECKING:  # these modules take a session: imported where they are called
    from artreg.publish.collect import Collection
    from artreg.publish.verify import Verification


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Publisher:
    """A session: plans, publishes, and gives the other commands their job and state."""

    config: Config
    target: Target
    store: Store
    clock: Callable[[], dt.datetime] = field(default=utc_now)

    @property
    def base(self) -> Path:
        """The directory relative paths in the configuration start from."""
        return self.config.path.parent if self.config.path is not None else Path()

    @functools.cached_property
    def conditional(self) -> bool:
        """Whether the store honours conditional writes (probed once per session)."""
        return self.store.supports_conditional_writes()

    def state(self) -> TargetState:
        """The target as listed now: the build manifests and the root index."""
        return read_state(self.store, self.config.convention())

    def job(
        self,
        state: TargetState,
        command: str,
        *,
        now: dt.datetime | None = None,
        gc: bool = False,
        allow_mass_delete: bool = False,
        rebuild: bool = False,
        sweep_images: bool = False,
        present: AbstractSet[str] | None = None,
    ) -> Job:
        """What the index and retention phase needs, for ``command`` (the lease holder)."""
        return Job(
            store=self.store,
            config=self.config,
            target=self.target,
            original=state,
            now=(now or self.clock()).replace(microsecond=0),
            gc=gc,
            allow_mass_delete=allow_mass_delete,
            holder=default_holder(command),
            rebuild=rebuild,
            sweep_images=sweep_images,
            present=present,
        )

    def prepare(self, settings: ApplySettings, *, show_index: bool = False) -> Prepared:
        """Read, hash and plan the build ``settings`` name; writes nothing."""
        return prepare(
            self.config, self.target, self.store, settings, base=self.base, show_index=show_index
        )

    def publish(self, prepared: Prepared, progress: Progress) -> Report:
        """Carry out ``prepared``: files, manifest, index, retention, the site."""
        return publish(prepared, progress)

    def plan_collection(
        self, *, now: dt.datetime, allow_mass_delete: bool, dry_run: bool
    ) -> Collection:
        """What ``gc`` would delete (one listing); writes nothing."""
        from artreg.publish.collect import plan_collection

        return plan_collection(self, now=now, allow_mass_delete=allow_mass_delete, dry_run=dry_run)

    def collect(self, collection: Collection) -> Report:
        """Carry out a collection (retention, orphans, images, then latest/)."""
        from artreg.publish.collect import collect

        return collect(self, collection)

    def verify(self, *, deep: bool, repair: bool) -> Verification:
        """Check the target against its manifests; with ``repair``, rewrite the index."""
        from artreg.publish.verify import verify

        return verify(self, deep=deep, repair=repair)
