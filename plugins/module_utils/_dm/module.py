# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module layer of the dm_* modules: argument specs (paired with plugins/doc_fragments/dm.py)
and one runner per module on top of ``_dm.ops.DmHost``.

- ``DEVICE_SPEC``: the keys every device of dm_device and dm_target has (name, state, uuid,
  readonly, reload, force, deferred, rename_from); ``device_argument_spec(extra)`` adds the
  module's own keys, ``devices`` (a list of the same dicts, applied as one batch; keys an item
  leaves out come from the top level) and ``name_prefix`` / ``uuid_prefix`` (with
  ``state: absent``, remove every device the prefix selects, as one batch).
- ``secrets(params)``: every crypt key found in the raw parameters, handed to
  ``module.no_log_values`` before anything else happens, so no result, diff, error or
  invocation echo can carry one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.discovery import (
    discover, discover_kernel, parse_targets, select)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.fault import (
    Fault, FaultRecord, dust_messages, plan, sector_range)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import (
    STATES, DeviceSpec, DmHost, check_unique, prefix_label)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.stats import device_stats
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import (
    Table, check_block_devices, validate_name, validate_uuid)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError, Integrity
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.dmsetup import Dmsetup
from ansible_collections.sts.devicemapper.plugins.module_utils._module_base import ModuleRunner
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.resume_guard import ResumeGuard, recover
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.names import layer_device

DEVICE_SPEC = dict(
    name=dict(type='str'),
    state=dict(type='str', choices=list(STATES)),
    uuid=dict(type='str'),
    readonly=dict(type='bool'),
    reload=dict(type='bool'),
    force=dict(type='bool'),
    deferred=dict(type='bool'),
    rename_from=dict(type='str'),
)
# the top level's defaults; a batch item inherits the top level's value for any key it leaves out
TOP_DEFAULTS = dict(state='present', reload=False, force=False, deferred=False)
INHERITED = ('state', 'reload', 'force', 'deferred', 'readonly')


def device_argument_spec(extra):
    item = dict(DEVICE_SPEC, **extra)
    spec = {}
    for key, value in item.items():
        value = dict(value)
        if key in TOP_DEFAULTS:
            value['default'] = TOP_DEFAULTS[key]
        spec[key] = value
    spec['devices'] = dict(type='list', elements='dict', options=item)
    spec['name_prefix'] = dict(type='str')
    spec['uuid_prefix'] = dict(type='str')
    spec['udev_timeout'] = dict(type='int', default=10)
    return spec


DEVICE_MODULE_KWARGS = dict(
    mutually_exclusive=[('name', 'devices', 'name_prefix', 'uuid_prefix'), ('rename_from', 'devices'),
                        ('rename_from', 'name_prefix'), ('rename_from', 'uuid_prefix')],
    required_one_of=[('name', 'devices', 'name_prefix', 'uuid_prefix')])
# what a removal by prefix reads; any other option given with it is refused, not ignored
PREFIX_KEYS = ('name_prefix', 'uuid_prefix', 'state', 'force', 'deferred', 'delete_thin', 'create_thin',
               'udev_timeout', 'lock_timeout')


INTEGRITY_KEYED = Integrity.KEYED


def secrets(value):
    """Keys anywhere in raw parameters: crypt keys (segment dicts of type crypt, crypt table lines)
    and the keys of integrity's internal_hash / journal_crypt / journal_mac (``ALG:KEY``)."""
    found = []
    if isinstance(value, dict):
        options = value.get('options') if isinstance(value.get('options'), dict) else value
        if value.get('type') == 'crypt':
            key = options.get('key')
            if key is not None and not str(key).startswith(':') and str(key) != '-':
                found.append(str(key))
        if value.get('type') == 'integrity':
            for name in INTEGRITY_KEYED:
                keyed = str(options.get(name) or '')
                if keyed.count(':') >= 1 and keyed.split(':', 1)[1]:
                    found.append(keyed.split(':', 1)[1])
        for item in value.values():
            found.extend(secrets(item))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found.extend(secrets(item))
    elif isinstance(value, str):
        for line in value.splitlines():
            words = line.split()
            if len(words) > 4 and words[2] == 'crypt' and not words[4].startswith(':') and words[4] != '-':
                found.append(words[4])
            if len(words) > 3 and words[2] == 'integrity':
                found.extend(w.split(':', 2)[2] for w in words[3:]
                             if w.partition(':')[0] in INTEGRITY_KEYED and w.count(':') >= 2 and w.split(':', 2)[2])
    return found


def state_text(state):
    """A device state (``DmHost.state_of``) as the text of a diff."""
    if not state.get('exists'):
        return ''
    lines = ['uuid: %s' % (state.get('uuid') or ''), 'readonly: %s' % str(bool(state.get('readonly'))).lower(),
             'suspended: %s' % str(bool(state.get('suspended'))).lower(), 'table:']
    lines += ['  %s' % line for line in state.get('table') or []]
    return '\n'.join(lines) + '\n'


class DmRunner(ModuleRunner):
    """Common ground: dmsetup through ``run_command`` (argv lists, table on stdin, C locale)."""

    def __init__(self, module):
        super(DmRunner, self).__init__(module)
        for key in secrets(module.params):
            module.no_log_values.add(key)
        self._dmsetup = None

    def dmsetup_path(self):
        if self._dmsetup is None:
            self._dmsetup = self.module.get_bin_path('dmsetup', required=True)
        return self._dmsetup

    def run_argv(self, argv, data=None):
        if argv and argv[0] == 'dmsetup':
            argv = [self.dmsetup_path()] + list(argv[1:])
        return self.module.run_command(argv, data=data, binary_data=True, environ_update={'LC_ALL': 'C'})

    def guard(self, names):
        return ResumeGuard(self.dmsetup_path(), names)

    def host(self, udev_timeout=10, run=None):
        """The DmHost; a run that changes dm state first resumes what a killed run of ours left
        suspended (_dm.resume_guard.recover), and says so."""
        return self.recovered(DmHost(run or self.run_argv, check_mode=self.check_mode, udev_timeout=udev_timeout,
                                     guard=self.guard))

    def recovered(self, host):
        """``host``, after resuming what a killed run of ours left suspended (runs that change dm state)."""
        if self.locks and not self.check_mode:
            said = recover(lambda name: host.dmsetup.try_call('resume', name),
                           lambda name: host.facts[name]['suspended'] if name in host.facts else None)
            for sentence in said:
                self.module.warn(sentence)
            if said:
                host.refresh()
        return host


class DeviceRunner(DmRunner):
    """dm_device and dm_target: one device or a batch (``devices``)."""

    locks = True

    def table_of(self, item):
        """The wanted Table of one device's parameters, or None."""
        raise NotImplementedError

    def extra(self, item):
        """DeviceSpec keyword arguments beyond the common keys."""
        return {}

    def items(self):
        p = self.params
        if p.get('devices') is None:
            return [dict((k, p.get(k)) for k in p if k not in ('devices', 'udev_timeout', 'name_prefix',
                                                               'uuid_prefix'))], False
        items = []
        for i, raw in enumerate(p['devices']):
            item = dict(raw)
            for key in INHERITED:
                if item.get(key) is None:
                    item[key] = p.get(key)
            if not item.get('name'):
                raise DmError('devices[%d]: expected a name' % i)
            items.append(item)
        if not items:
            raise DmError('devices: expected at least one device')
        return items, True

    def spec_of(self, item):
        name = validate_name(item['name'])
        try:
            table = self.table_of(item)
        except DmError as exc:
            raise DmError('device %s: %s' % (name, exc.msg), **exc.details)
        return DeviceSpec(name, state=item.get('state') or 'present', table=table, uuid=item.get('uuid'),
                          readonly=item.get('readonly'), reload=bool(item.get('reload')),
                          force=bool(item.get('force')), deferred=bool(item.get('deferred')),
                          rename_from=item.get('rename_from'), **self.extra(item))

    def run(self):
        if self.params.get('name_prefix') is not None or self.params.get('uuid_prefix') is not None:
            self.teardown()
            return
        items, batch = self.items()
        specs = [self.spec_of(item) for item in items]
        check_unique(specs)
        made = set(spec.name for spec in specs if spec.state != 'absent')
        for spec in specs:
            if spec.table is not None and spec.state != 'absent':
                # check mode: a /dev/mapper device an earlier task would have made may be missing
                check_block_devices(spec.name, spec.table, made, lenient_mapper=self.check_mode)
        self.apply(self.host(self.params.get('udev_timeout') or 10), specs, batch)

    def teardown(self):
        """``state: absent`` of every device whose name (``name_prefix``) or uuid (``uuid_prefix``) starts so."""
        p = self.params
        which = prefix_label(p.get('name_prefix'), p.get('uuid_prefix'))
        if p.get('state') != 'absent':
            raise DmError('%s removes every device it selects; expected state: absent, got %s' % (which, p.get('state')))
        others = [k for k in sorted(p) if k not in PREFIX_KEYS and p[k] is not None and p[k] is not False]
        if others:
            raise DmError('%s removes devices; %s cannot be given with it (expected only state, force, deferred%s)'
                          % (which, ', '.join(others), ', delete_thin' if 'delete_thin' in p else ''))
        host = self.host(p.get('udev_timeout') or 10)
        specs = host.teardown(name_prefix=p.get('name_prefix'), uuid_prefix=p.get('uuid_prefix'),
                              force=bool(p.get('force')), deferred=bool(p.get('deferred')),
                              delete_thin=bool(p.get('delete_thin')))
        self.result['selected'] = [spec.name for spec in specs]
        self.apply(host, specs, True)

    def apply(self, host, specs, batch):
        """Apply the specs through ``host``; the results (one device, or ``devices``), diff and warnings."""
        try:
            results = host.apply(specs)
        except DmError as exc:
            self.result['changed'] = any(r['changed'] for r in exc.details.get('devices', []))
            if not batch:
                done = exc.details.pop('devices', [])
                exc.details.update(commands=host.dmsetup.commands, before=host.state_of(specs[0].name)
                                   if not done else done[0]['before'])
            raise
        self.result['changed'] = any(r['changed'] for r in results)
        for r in results:
            if r.get('completed'):
                self.module.warn(r.pop('completed'))
        if batch:
            self.result['devices'] = results
        else:
            self.result.update(results[0])

        def text(r, key):
            # a rename shows as the name line changing
            name = ('name: %s\n' % (r['renamed_from'] if key == 'before' else r['name'])) if 'renamed_from' in r else ''
            return ('# %s\n' % r['name'] if batch else '') + name + state_text(r[key])
        self.set_diff(''.join(text(r, 'before') for r in results), ''.join(text(r, 'after') for r in results))


class InfoRunner(DmRunner):
    """dm_info: facts of every device, or the ones the filters pick, from three dmsetup calls; the
    kernel facts asked for in ``kernel_facts`` (``targets``, ``version``), one call each; and with
    ``stats``, each chosen device's statistics regions."""

    def run(self):
        p = self.params
        # a filter no device can match is a typo to report, not an empty answer
        for name in p.get('names') or []:
            validate_name(name)
        if p.get('uuid_prefix'):
            validate_uuid(p['uuid_prefix'])
        facts, _tables = discover(self.run_argv)
        chosen = select(facts, names=p.get('names'), target_types=p.get('target_types'),
                        uuid_prefix=p.get('uuid_prefix'))
        if p.get('stats'):
            self.add_stats(chosen)
        self.result['devices'] = chosen
        self.result['names'] = sorted(chosen)
        self.result['count'] = len(chosen)
        # the argument spec's default asks for both; a caller without the key (a test) for none
        self.result.update(discover_kernel(self.run_argv, p.get('kernel_facts') or ()))

    def add_stats(self, chosen):
        """``stats`` of each chosen device: its statistics regions with their counters (one
        ``@stats_list`` per device, one ``@stats_print`` per region). A device whose statistics
        cannot be read (removed meanwhile) gets none, and a warning says why."""
        dmsetup = Dmsetup(self.run_argv)
        for name in sorted(chosen):
            try:
                chosen[name]['stats'] = device_stats(dmsetup, name)
            except DmError as exc:
                self.module.warn('device %s: its statistics could not be read: %s' % (name, exc.msg))


THIN_ACTIONS = ('create_thin', 'create_snap', 'delete', 'set_transaction_id', 'reserve_metadata_snap',
                'release_metadata_snap')
# what each thin-pool action needs, checked from the arguments before the host is read
ACTION_NEEDS = {'create_thin': ('dev_id',), 'create_snap': ('dev_id', 'origin_id'), 'delete': ('dev_id',),
                'set_transaction_id': ('transaction_id',)}


def check_action_args(action, params):
    """Refuse a thin-pool action whose ids are missing or out of range (no host is read)."""
    keys = ACTION_NEEDS.get(action, ())
    missing = [k for k in keys if params.get(k) is None]
    if missing:
        raise DmError('action %s: needs %s' % (action, ', '.join(missing)))
    for key in keys:
        # thin dev_ids are 24-bit (the pool's metadata); a transaction id is unsigned 64-bit
        top = 2 ** 64 - 1 if key == 'transaction_id' else 2 ** 24 - 1
        if not 0 <= params[key] <= top:
            raise DmError('action %s: %s %d is out of range; expected 0 to %d' % (action, key, params[key], top))


class MessageRunner(DmRunner):
    """dm_message: any target message, or an idempotent thin-pool action."""

    locks = True

    def run(self):
        p = self.params
        name = validate_name(p['name'])
        if p.get('sector') is not None and p['sector'] < 0:
            raise DmError('sector %d: expected a sector number >= 0' % p['sector'])
        if p.get('action'):
            check_action_args(p['action'], p)
        host = self.host()
        if name not in host.facts:
            raise DmError('device %s: no such device' % name)
        self.result['name'] = name
        if p.get('target_message'):
            words = p['target_message'].split()
            self.result['target_message'] = ' '.join(words)
            self.result['changed'] = True
            if self.check_mode:
                self.result['sent'] = False
                return
            rc, out, err = host.dmsetup.message(name, words, sector=p.get('sector') or 0)
            self.result.update(commands=host.dmsetup.commands, sent=True, reply=out.strip())
            if rc != 0:
                raise host.dmsetup.error('message', name, rc, out, err, prefix='device %s: message %r refused: '
                                         % (name, self.result['target_message']))
            return
        self.thin_action(host, name, p['action'])

    def thin_action(self, host, pool, action):
        p = self.params
        status = host.pool_status(pool)
        if status is None:
            raise DmError('device %s: action %s needs a thin-pool device; its targets: %s'
                          % (pool, action, ', '.join(host.facts[pool]['target_types']) or 'none'))
        self.result['action'] = action
        self.result['status_before'] = status
        changed, args = self.plan(host, pool, action, status)
        self.result['changed'] = changed
        if changed and not self.check_mode:
            if action == 'create_snap':
                changed = host.create_snap(pool, p['dev_id'], p['origin_id'])
            else:
                changed = host.thin_message(pool, action, *args)
            self.result['changed'] = changed
            host.refresh()
        self.result['commands'] = host.dmsetup.commands
        self.result['status_after'] = host.pool_status(pool)

    def plan(self, host, pool, action, status):
        """(would change, message args) from what the pool shows."""
        p = self.params
        if action == 'create_thin':
            return not host.thin_users(pool, p['dev_id']), [p['dev_id']]
        if action == 'create_snap':
            return not host.thin_users(pool, p['dev_id']), [p['dev_id'], p['origin_id']]
        if action == 'delete':
            users = host.thin_users(pool, p['dev_id'])
            if users:
                raise DmError('thin-pool %s: dev_id %d is mapped by %s; remove that device first'
                              % (pool, p['dev_id'], ', '.join(users)))
            return True, [p['dev_id']]
        if action == 'set_transaction_id':
            current = status['transaction_id']
            return current != p['transaction_id'], [current, p['transaction_id']]
        held = status.get('held_metadata_root') is not None
        if action == 'reserve_metadata_snap':
            return not held, []
        return held, []


class FaultRunner(DmRunner):
    """dm_fault: put a fault under a live device (``injected``) or put its healthy table back (``healed``).

    The record (``_dm.fault.FaultRecord``) is written before the faulty table goes live and removed
    after the healthy one is back, so what the live table is, compared with the record's healthy,
    injected and (during a replace) previous tables, says how far a killed run got."""

    locks = True

    def run(self):
        p = self.params
        stack = p.get('stack')
        if stack:
            # a stack's carved layer, by the name the stack planners give it
            name = layer_device(stack.get('kind'), stack.get('name'), stack.get('layer'))
            self.result['stack'] = dict(stack)
        else:
            name = validate_name(p['name'])
        # the record's place and the fault are checked before the host is looked at
        FaultRecord(p['record_dir'], name)
        if p['state'] == 'injected' or p.get('fault') is not None:
            Fault.from_params(p['fault'])
        self.fault_device(self.host(p.get('udev_timeout') or 10), name, stack)

    def fault_device(self, host, name, stack=None):
        """Inject or heal the fault of one device, as ``self.params`` say (state, fault, start, length,
        replace, record_dir); the outcome goes into ``self.result``."""
        p = self.params
        record = FaultRecord(p['record_dir'], name)
        wanted = Fault.from_params(p['fault']) if p['state'] == 'injected' else None
        if p['state'] == 'healed' and p.get('fault') is not None:
            Fault.from_params(p['fault'])
        saved = record.load()
        self.result.update(name=name, state=p['state'], record=record.path)
        if name not in host.facts:
            if p['state'] == 'healed':
                if saved is not None:
                    self.result['changed'] = True
                    self.module.warn('device %s does not exist; its fault record %s was removed' % (name, record.path))
                    if not self.check_mode:
                        record.remove()
                return
            if stack:
                raise DmError('device %s, the %s layer of %s stack %s, does not exist; expected the stack built on a '
                              'loop file or one disk (a stack on given devices: fault those devices by name)'
                              % (name, stack['layer'], stack['kind'], stack['name']))
            raise DmError('device %s does not exist; expected a live dm device to put the fault under' % name)
        live = host.tables[name]
        before = host.state_of(name)
        if p['state'] == 'injected':
            self.inject(host, record, saved, wanted, live)
        else:
            self.heal(host, record, saved, live)
        self.result['commands'] = host.dmsetup.commands
        after = self.result.get('device', {}).get('after') or host.state_of(name)
        self.result.pop('device', None)
        self.result['table'] = after.get('table', [])
        self.set_diff(state_text(before) + _fault_line(saved), state_text(after) + _fault_line(
            self.result.get('recorded')))
        self.result.pop('recorded', None)

    @staticmethod
    def matches(host, lines, live):
        return bool(lines) and not Table.parse(lines).differences(live, host.resolve, host.kernel)

    def which(self, host, saved, live, path):
        """Which table of the record the live one is: injected, healthy or previous; DmError when none."""
        for key in ('injected', 'healthy', 'previous'):
            if self.matches(host, saved.get(key) or [], live):
                return key
        raise DmError('device %s: its live table matches neither the healthy nor the injected table of its fault record '
                      '%s; it was changed outside dm_fault. Live: %s; healthy: %s. Check the device, then remove the '
                      'record' % (saved['name'], path, '; '.join(live.lines()),
                                  '; '.join(saved['healthy'])))

    def swap(self, host, name, table):
        result = host.ensure(DeviceSpec(name, table=table, reload=True))
        self.result['changed'] = self.result['changed'] or result['changed']
        self.result['device'] = result
        return result

    def inject(self, host, record, saved, fault, live):
        p = self.params
        name = record.name
        healthy = live if saved is None else Table.parse(saved['healthy'])
        first, end = sector_range(healthy, p.get('start'), p.get('length'))
        faulty = plan(healthy, fault, first, end - first, name)
        wanted = {'healthy': [seg.format() for seg in healthy], 'injected': [seg.format() for seg in faulty],
                  'fault': fault.spec, 'start': first, 'length': end - first}
        self.result.update(fault=fault.spec, start=first, length=end - first, healthy_table=healthy.lines(),
                           recorded=wanted)
        at = 'healthy' if saved is None else self.which(host, saved, live, record.path)
        if saved is not None:
            same = all(saved.get(k) == wanted[k] for k in ('fault', 'start', 'length'))
            if not same and not p['replace']:
                raise DmError('device %s has a fault injected already (%s, sectors %s to %s, record %s); wanted %s, '
                              'sectors %d to %d: heal it first, or set replace: true'
                              % (name, Fault(saved['fault']).describe(), saved.get('start'),
                                 saved.get('start', 0) + saved.get('length', 0) - 1, record.path, fault.describe(),
                                 first, end - 1))
            if same and at == 'injected':
                return
            if at == 'previous' or (same and at == 'healthy'):
                self.module.warn('device %s: an earlier dm_fault run was cut short (the live table is its %s one); '
                                 'this run completes it' % (name, at))
            # a replace cut short keeps the table it replaced, so its re-run still knows the live one
            if at == 'previous':
                wanted['previous'] = saved['previous']
            elif not same and at == 'injected':
                wanted['previous'] = saved['injected']
        if fault.type == 'dust':
            self.need_target(host, 'dust', name)
        self.refuse_suspended(host, name)
        self.result['changed'] = True
        if self.check_mode:
            self.result['device'] = host.ensure(DeviceSpec(name, table=faulty, reload=True))
            return
        record.save(wanted)
        try:
            self.swap(host, name, faulty)
        except DmError:
            # the swap keeps the live table when it fails; the record then goes back to what it was
            host.refresh()
            if name in host.tables and self.matches(host, wanted['healthy'] if saved is None else [], host.tables[name]):
                record.remove()
            elif saved is not None and name in host.tables and self.matches(host, saved['injected'], host.tables[name]):
                record.save(saved)
            raise
        for sector, words in dust_messages(faulty, fault):
            host.dmsetup.call('message', name, words=words, sector=sector)
        if 'previous' in wanted:
            record.save(dict((k, v) for k, v in wanted.items() if k != 'previous'))

    def heal(self, host, record, saved, live):
        name = record.name
        if saved is None:
            self.result['healthy_table'] = live.lines()
            return
        self.result.update(fault=saved['fault'], start=saved.get('start'), length=saved.get('length'),
                           healthy_table=Table.parse(saved['healthy']).lines())
        at = self.which(host, saved, live, record.path)
        if at != 'healthy':
            self.refuse_suspended(host, name)
        self.result['changed'] = True
        if at == 'healthy':
            self.module.warn('device %s: its healthy table is live already (an earlier dm_fault run was cut short); '
                             'its fault record %s is removed' % (name, record.path))
        elif self.check_mode:
            self.result['device'] = host.ensure(DeviceSpec(name, table=Table.parse(saved['healthy']), reload=True))
        else:
            self.swap(host, name, Table.parse(saved['healthy']))
        if not self.check_mode:
            record.remove()

    @staticmethod
    def refuse_suspended(host, name):
        """A swap ends with a resume: a device somebody else suspended is refused, not resumed behind
        their back (what a killed run of ours left suspended was resumed before this run looked)."""
        if host.facts[name]['suspended']:
            raise DmError('device %s is suspended; expected an active device (the swap ends with a resume, which '
                          'would resume it behind whoever suspended it): resume it first (dmsetup resume %s)'
                          % (name, name))

    def need_target(self, host, target, name):
        """Refuse a fault whose kernel target this host lacks (loading its module first when it can)."""
        def listed():
            rc, out, _err = host.dmsetup.run(['dmsetup', 'targets'], record=False)
            loaded = parse_targets(out) if rc == 0 else {}
            return target in loaded, loaded
        found, loaded = listed()
        tried = ''
        if not found and not self.check_mode:
            modprobe = self.module.get_bin_path('modprobe')
            if modprobe:
                rc, _o, err = self.module.run_command([modprobe, 'dm-' + target])
                tried = '; modprobe dm-%s: %s' % (target, (err or '').strip() or 'rc %d' % rc)
                found, loaded = listed()
        if not found:
            names = sorted(loaded)
            raise DmError('device %s: fault %s needs the kernel target %s, which this kernel lacks (dmsetup targets '
                          'lists %s%s); Debian\'s cloud kernels do not build dm-%s: use flakey with error_reads, or '
                          'error over a range, instead' % (name, target, target, ', '.join(names) or 'none', tried,
                                                           target))


def _fault_line(record):
    if not record:
        return 'fault: none\n'
    first = record.get('start', 0)
    return 'fault: %s, sectors %d to %d\n' % (Fault(record['fault']).describe(), first,
                                              first + record.get('length', 0) - 1)
