"""A Manila driver behind the contract: :func:`export_manila_driver`.

At setup the driver is built as Manila's share manager builds it: its
configuration is the backend's section of manila.conf (every option as
written, the driver's own included), its ``private_storage`` this store
under the backend's host, then ``do_setup`` and ``check_for_setup_error``.
The instance keeps the driver, and what it holds (a session with the
array), for every later call. Each operation calls the driver's method
with Manila's records, its arguments passed as Manila 23's share manager
passes them (positional or by name, ``share_server=None``: drivers differ in
which they give defaults), and maps its answer; Manila's exceptions cross as the
contract's errors, carrying the exception's class name, so that the host
raises the same one in ``manila-share``.
"""

import logging
import sys
import traceback

from manila_driver.driver import ShareDriver, export
from manila_driver.errors import BackendError, Invalid, NotFound, Unsupported
from manila_driver.manila import environment, records
from manila_driver.types import ShareUpdate, ShareUsage

# The section's name, under which the host passes it along with the options.
CONFIG_GROUP = "config_group"
# The least level the host logs the driver's lines at (the privdata host adds it).
LOG_LEVEL = "privdata_log_level"


class _Context:
    """The request context Manila passes drivers: an administrator's."""

    is_admin = True
    project_id = user_id = request_id = None
    read_deleted = "no"

    def elevated(self, *args, **kwargs):
        return self

    def to_dict(self):
        return {"is_admin": True}


def _configure(manila_conf):
    """Give oslo.config the backend's section as if manila.conf were read,
    and logging the host's level."""
    from oslo_config import cfg

    conf = dict(manila_conf)
    level = conf.pop(LOG_LEVEL, None)
    if level and level.isdigit():
        # A line below it would be formatted here only to be dropped there.
        logging.getLogger().setLevel(int(level))
    group = conf.pop(CONFIG_GROUP, None) or "backend"
    section = {key: [value] for key, value in conf.items()}
    default = {}
    for key in ("host", "share_name_template", "share_snapshot_name_template"):
        if key in section:
            default[key] = section[key]
    sections = {group: section, "DEFAULT": default}
    normalized = {group.lower(): section, "DEFAULT": default}
    cfg.CONF._namespace._add_parsed_config_file("<manila.conf [%s]>" % group, sections, normalized)
    getattr(cfg.CONF, "_ConfigOpts__cache").clear()
    return group


def _manila_error(error, operation):
    """The contract's error for what a Manila driver raised."""
    from manila import exception

    name = type(error).__name__
    message = "%s: %s" % (name, error)
    if isinstance(error, NotImplementedError):
        return Unsupported("this driver does not support %s" % operation)
    if isinstance(error, exception.NotFound):
        return NotFound(message)
    if isinstance(error, (exception.Invalid, exception.ShareShrinkingPossibleDataLoss)):
        return Invalid(message)
    if isinstance(error, exception.ManilaException):
        return BackendError(message)
    if isinstance(error, environment.SandboxRefusal):
        return BackendError(message)
    # A bug, or a failure the driver did not expect: its traceback goes to
    # the host log, the operation fails, the instance goes on.
    traceback.print_exception(error, file=sys.stderr)
    return BackendError(message)


def export_manila_driver(driver_path, also=()):
    """The component's ``share-driver`` export for the Manila driver class
    at ``driver_path`` (``package.module.Class``): call it at the top of
    the component's module, where componentize-py runs it at build time.
    ``also`` names modules to load beyond :mod:`.preload`'s."""
    environment.prepare()
    from manila_driver.manila import transport

    transport.install()
    driver_class, failed = environment.load_driver(driver_path, also)
    for name, why in sorted(failed.items()):
        print("privdata: %s is not in the component%s" % (name, ": " + why if why else ""))
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    class ManilaDriver(ShareDriver):
        def setup(self, options):
            group = _configure(options.manila_conf)
            from manila.share import configuration, driver

            self.context = _Context()
            self.driver = self.call(
                "setup",
                driver_class,
                private_storage=self.private_storage,
                configuration=configuration.Configuration(driver.share_opts, config_group=group),
            )
            self.call("setup", self.driver.do_setup, self.context)
            self.call("setup", self.driver.check_for_setup_error)

        def call(self, operation, method, *args, shares=(), **kwargs):
            environment.know_share_types(shares)
            try:
                return method(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - every failure is answered
                raise _manila_error(e, operation) from None

        def get_backend_info(self):
            try:
                info = self.driver.get_backend_info(self.context)
            except NotImplementedError:
                return None
            except Exception as e:  # noqa: BLE001
                raise _manila_error(e, "get-backend-info") from None
            return None if info is None else dict(info)

        def get_stats(self):
            return records.stats(self.call("get-stats", self.driver.get_share_stats, refresh=True))

        def create_share(self, share):
            s = records.share(share)
            return records.share_update(self.call(
                "create-share", self.driver.create_share, self.context, s, share_server=None, shares=[s]
            ))

        def create_share_from_snapshot(self, share, snapshot):
            s, snap = records.share(share), records.snapshot(snapshot)
            answer = self.call(
                "create-share-from-snapshot",
                self.driver.create_share_from_snapshot,
                self.context,
                s,
                snap,
                share_server=None,
                parent_share=snap["share"],
                shares=[s, snap["share"]],
            )
            # Manila takes export locations (a list) or a model update with
            # the share's status; anything else fails the share as Manila
            # would fail it outside the sandbox.
            if not isinstance(answer, list) and (answer or {}).get("status") is None:
                from manila import exception

                raise _manila_error(
                    exception.InvalidShareInstance(
                        reason="create_share_from_snapshot answered %r: no share status" % (answer,)
                    ),
                    "create-share-from-snapshot",
                )
            return records.share_update(answer)

        def delete_share(self, share):
            s = records.share(share)
            self.call("delete-share", self.driver.delete_share, self.context, s, share_server=None, shares=[s])

        def extend_share(self, share, new_size_gib):
            s = records.share(share)
            self.call("extend-share", self.driver.extend_share, s, new_size_gib, share_server=None, shares=[s])

        def shrink_share(self, share, new_size_gib):
            s = records.share(share)
            self.call("shrink-share", self.driver.shrink_share, s, new_size_gib, share_server=None, shares=[s])

        def ensure_shares(self, shares):
            manila_shares = [records.share(s) for s in shares]
            try:
                answer = self.call(
                    "ensure-shares", self.driver.ensure_shares, self.context, manila_shares, shares=manila_shares
                )
            except Unsupported:
                answer = {}
                for s in manila_shares:
                    exports = self.call(
                        "ensure-shares", self.driver.ensure_share, self.context, s, share_server=None, shares=[s]
                    )
                    answer[s["id"]] = {"export_locations": exports} if exports else {}
            return {share_id: records.share_update(update or {}) for share_id, update in (answer or {}).items()}

        def get_share_status(self, share):
            s = records.share(share)
            return records.share_update(self.call("get-share-status", self.driver.get_share_status, s, None, shares=[s]))

        def update_share_usage_size(self, shares):
            manila_shares = [records.share(s) for s in shares]
            answer = self.call(
                "update-share-usage-size",
                self.driver.update_share_usage_size,
                self.context,
                manila_shares,
                shares=manila_shares,
            )
            return [
                ShareUsage(
                    u["id"], int(float(u.get("used_size") or 0)), int(u["gathered_at"].timestamp())
                    if hasattr(u.get("gathered_at"), "timestamp") else 0
                )
                for u in answer or []
            ]

        def create_snapshot(self, snapshot):
            snap = records.snapshot(snapshot)
            answer = self.call(
                "create-snapshot",
                self.driver.create_snapshot,
                self.context,
                snap,
                share_server=None,
                shares=[snap["share"]],
            )
            return records.snapshot_update(answer)

        def delete_snapshot(self, snapshot):
            snap = records.snapshot(snapshot)
            self.call(
                "delete-snapshot",
                self.driver.delete_snapshot,
                self.context,
                snap,
                share_server=None,
                shares=[snap["share"]],
            )

        def revert_to_snapshot(self, snapshot, share_access_rules, snapshot_access_rules):
            snap = records.snapshot(snapshot)
            answer = self.call(
                "revert-to-snapshot",
                self.driver.revert_to_snapshot,
                self.context,
                snap,
                records.rules(share_access_rules),
                records.rules(snapshot_access_rules),
                share_server=None,
                shares=[snap["share"]],
            )
            if isinstance(answer, int):
                return ShareUpdate(size_gib=answer)
            return records.share_update(answer or {})

        def update_access(self, share, access_rules, add_rules, delete_rules, update_rules):
            s = records.share(share)
            answer = self.call(
                "update-access",
                self.driver.update_access,
                self.context,
                s,
                records.rules(access_rules),
                add_rules=records.rules(add_rules),
                delete_rules=records.rules(delete_rules),
                update_rules=records.rules(update_rules),
                share_server=None,
                shares=[s],
            )
            from manila_driver.types import RuleResult, RuleState

            # Manila's reading of the answer: a rule the driver says nothing
            # of is in force; the driver's updates name errors and keys.
            answer = answer or {}
            results = []
            for rule_id in dict.fromkeys(r.id for r in [*access_rules, *add_rules]):
                update = answer.get(rule_id) or {}
                state = RuleState.ERROR if update.get("state") == "error" else RuleState.ACTIVE
                results.append(RuleResult(rule_id, state, update.get("access_key")))
            return results

        def snapshot_update_access(self, snapshot, access_rules, add_rules, delete_rules):
            snap = records.snapshot(snapshot)
            self.call(
                "snapshot-update-access",
                self.driver.snapshot_update_access,
                self.context,
                snap,
                records.rules(access_rules),
                add_rules=records.rules(add_rules),
                delete_rules=records.rules(delete_rules),
                share_server=None,
                shares=[snap["share"]],
            )

        def manage_existing(self, share, driver_options):
            s = records.share(share)
            answer = self.call("manage-existing", self.driver.manage_existing, s, dict(driver_options), shares=[s])
            return records.share_update(answer or {})

        def unmanage(self, share):
            s = records.share(share)
            self.call("unmanage", self.driver.unmanage, s, shares=[s])

        def manage_existing_snapshot(self, snapshot, driver_options):
            snap = records.snapshot(snapshot)
            answer = self.call(
                "manage-existing-snapshot",
                self.driver.manage_existing_snapshot,
                snap,
                dict(driver_options),
                shares=[snap["share"]],
            )
            return records.snapshot_update(answer)

        def unmanage_snapshot(self, snapshot):
            snap = records.snapshot(snapshot)
            self.call("unmanage-snapshot", self.driver.unmanage_snapshot, snap, shares=[snap["share"]])

    ManilaDriver.__name__ = ManilaDriver.__qualname__ = driver_class.__name__
    return export(ManilaDriver)
