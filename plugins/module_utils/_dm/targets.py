# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Model layer: one typed class per device-mapper target.

Every class is registered in ``TARGETS`` under the kernel's target name and offers:

- ``Cls.from_params(dict)``: the typed options the dm_target module passes (sizes in
  sectors or human units such as ``64KiB``); validates and raises ``DmError`` naming the
  value and what was expected;
- ``Cls.parse(args)``: from the args of a table line (string or list), as written by a user
  or echoed by ``dmsetup table``;
- ``t.args()``: the table args, a list of strings, in the order the kernel reads them; the
  only rendering that holds a crypt key, meant for the stdin of ``dmsetup create/load`` alone;
- ``t.canonical(resolve=None, kernel=None)``: the args as the kernel echoes them back:
  device paths turned into ``major:minor`` by ``resolve`` (a callable ``path -> 'maj:min'``,
  the module layer passes an ``os.stat`` based one), secrets blanked, defaults the kernel
  adds filled in; ``kernel`` is a ``(major, minor)`` tuple (see ``kernel_version``) for the
  few targets whose echo changed between kernels;
- ``t.echoed(resolve=None)``: the args of a table the kernel echoed, only paths resolved;
- ``t.differences(live, resolve=None, kernel=None)``: a list of human-readable differences
  between this wanted target (``canonical``) and a live one (``echoed``); empty: same;
- ``t.devices()``: the devices it references (for dependency order);
- ``t.redacted()``: the args as one string that is safe to show (crypt keys hidden);
  ``repr()`` uses it, so no key ever lands in a log, a diff or an error.

Echoes learned from the lab kernels (tests/unit/plugins/module_utils/fixtures/dm/):
on 6.1 a flakey table without features comes back with a trailing ``0``, on 6.12 with
``2 error_reads error_writes``; 6.1 rejects the error_reads and random_*_corrupt features;
multipath path selectors echo a repeat_count of 1; integrity adds its defaulted options;
crypt keys come back as zeros of the same length (keyring references stay as written);
verity options come back in the kernel's order (``ignore_corruption`` before
``ignore_zero_blocks``); cache echoes its constructor arguments exactly as given. The
canonical forms of thin-pool features and writecache options follow the order in which the
kernel emits them. Debian's cloud kernels (6.1 and 6.12) have no dm-dust; raid10 is refused
there without metadata devices ("unsupported raid10 layout"). vdo (6.12 only; 6.1 has no
dm-vdo) echoes its table word for word as it was loaded.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.sts.devicemapper.plugins.module_utils._units import SizeError, to_sectors

DEVNO_RE = re.compile(r'\A\d+:\d+\Z')
_HEX_RE = re.compile(r'\A[0-9a-fA-F]*\Z')
_KEYRING_RE = re.compile(r'\A:\d+:(logon|user|encrypted|trusted):\S+\Z')


class DmError(Exception):
    """A failure to report to the user; ``details`` go into the task result."""

    def __init__(self, msg, **details):
        super(DmError, self).__init__(msg)
        self.msg = msg
        self.details = details


def kernel_version(release):
    """``'6.12.117+deb13-cloud-amd64'`` -> ``(6, 12)``; None stays None."""
    if release is None or isinstance(release, tuple):
        return release
    match = re.match(r'^(\d+)\.(\d+)', str(release))
    if not match:
        raise DmError('kernel release %r: expected a version such as 6.1.0-50-cloud-amd64' % (release,))
    return int(match.group(1)), int(match.group(2))


def _tokens(args):
    if args is None:
        return []
    if isinstance(args, (list, tuple)):
        return [str(a) for a in args]
    return str(args).split()


def _int(value, what, minimum=0, maximum=None):
    if isinstance(value, bool):
        raise DmError('%s: %r is not a whole number' % (what, value))
    try:
        number = int(str(value), 10)
    except ValueError:
        raise DmError('%s: %r is not a whole number' % (what, value))
    if number < minimum or (maximum is not None and number > maximum):
        raise DmError('%s: %d is out of range; expected %s' % (
            what, number, ('%d to %d' % (minimum, maximum)) if maximum is not None else '>= %d' % minimum))
    return number


def _sectors(value, what):
    try:
        return to_sectors(value, what)
    except SizeError as exc:
        raise DmError(str(exc))


def _device(value, what):
    value = '' if value is None else str(value)
    if not value or any(c.isspace() for c in value):
        raise DmError('%s: %r is not a device; expected a path such as /dev/vdb or major:minor such as 7:0'
                      % (what, value))
    if not (value.startswith('/') or DEVNO_RE.match(value)):
        raise DmError('%s: %r is not a device; expected an absolute path or major:minor' % (what, value))
    return value


def _choice(value, what, choices):
    if value not in choices:
        raise DmError('%s: %r is not one of %s' % (what, value, ', '.join(choices)))
    return value


def resolved(device, resolve):
    """A device as the kernel echoes it: major:minor (paths go through ``resolve``)."""
    if device in (None, '-') or DEVNO_RE.match(device) or resolve is None:
        return device
    return resolve(device)


def _take(tokens, index, count, what):
    if len(tokens) < index + count:
        raise DmError('%s: expected %d argument(s) from position %d, got %d: %r'
                      % (what, count, index, len(tokens[index:]), ' '.join(tokens[index:])))
    return tokens[index:index + count]


def _counted(tokens, index, what):
    """``N a1 .. aN`` at ``index`` -> (list, next index)."""
    count = _int(_take(tokens, index, 1, what)[0], what + ' count')
    return _take(tokens, index + 1, count, what), index + 1 + count


class Target(object):
    """Base of every target: ``params`` holds the typed, validated values."""

    name = None
    # (key, kind) of the positional args for the targets that have nothing else;
    # kinds: dev, sectors, int, str. A trailing '?' on the key: optional, at the end only.
    positional = ()
    device_keys = ()
    defaults = {}

    def __init__(self, **params):
        self.params = params

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_params(cls, params):
        params = dict(cls.defaults, **dict((k, v) for k, v in (params or {}).items() if v is not None))
        known = [k.rstrip('?') for k, _kind in cls.positional]
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise DmError('%s target: unknown option(s) %s; expected %s'
                          % (cls.name, ', '.join(unknown), ', '.join(known) or 'none'))
        values = {}
        for key, kind in cls.positional:
            bare = key.rstrip('?')
            if params.get(bare) is None:
                if key.endswith('?'):
                    continue
                if kind == 'sectors' and bare in ('offset', 'start'):
                    params[bare] = 0
                else:
                    raise DmError('%s target: option %s is required' % (cls.name, bare))
            values[bare] = cls._convert(kind, params[bare], '%s %s' % (cls.name, bare))
        return cls(**values)

    @classmethod
    def _convert(cls, kind, value, what):
        if kind == 'dev':
            return _device(value, what)
        if kind == 'sectors':
            return _sectors(value, what)
        if kind == 'int':
            return _int(value, what)
        return str(value)

    @classmethod
    def parse(cls, args):
        tokens = _tokens(args)
        required = [k for k, _kind in cls.positional if not k.endswith('?')]
        if not len(required) <= len(tokens) <= len(cls.positional):
            raise DmError('%s target: expected %d argument(s) (%s), got %d: %r' % (
                cls.name, len(cls.positional), ' '.join('<%s>' % k for k, _kind in cls.positional),
                len(tokens), ' '.join(tokens)))
        values = {}
        for (key, kind), token in zip(cls.positional, tokens):
            kind = 'int' if kind == 'sectors' else kind
            values[key.rstrip('?')] = cls._convert(kind, token, '%s %s' % (cls.name, key.rstrip('?')))
        return cls(**values)

    # -- rendering ------------------------------------------------------------------------
    def args(self):
        out = []
        for key, _kind in self.positional:
            value = self.params.get(key.rstrip('?'))
            if value is not None:
                out.append(str(value))
        return out

    def canonical(self, resolve=None, kernel=None):
        return self._resolve_tokens(self.args(), resolve)

    def echoed(self, resolve=None):
        """The args of a table the kernel echoed (already canonical): only paths resolved."""
        return self._resolve_tokens(self.args(), resolve)

    def _resolve_tokens(self, tokens, resolve):
        devices = set(self.devices())
        return [resolved(t, resolve) if t in devices else t for t in tokens]

    def devices(self):
        return [self.params[k] for k in self.device_keys if self.params.get(k)]

    def redacted(self):
        return ' '.join(self.args())

    def differences(self, live, resolve=None, kernel=None):
        if live.name != self.name:
            return ['target type: wanted %s, live %s' % (self.name, live.name)]
        want = self.canonical(resolve, kernel)
        have = live.echoed(resolve)
        if want == have:
            return []
        return ['%s args: wanted %r, live %r' % (self.name, ' '.join(want), ' '.join(have))]

    def __eq__(self, other):
        return type(self) is type(other) and self.args() == other.args()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.name, tuple(self.args())))

    def __repr__(self):
        return '<%s %s>' % (type(self).__name__, self.redacted())


class Linear(Target):
    """``linear <device> <offset>``."""
    name = 'linear'
    positional = (('device', 'dev'), ('offset', 'sectors'))
    device_keys = ('device',)


class Error(Target):
    """``error``: every I/O fails."""
    name = 'error'


class Zero(Target):
    """``zero``: reads return zeros, writes are dropped."""
    name = 'zero'


class SnapshotOrigin(Target):
    """``snapshot-origin <origin>``."""
    name = 'snapshot-origin'
    positional = (('origin', 'dev'),)
    device_keys = ('origin',)


class Era(Target):
    """``era <metadata dev> <origin dev> <block size>``."""
    name = 'era'
    positional = (('metadata_dev', 'dev'), ('origin', 'dev'), ('block_size', 'sectors'))
    device_keys = ('metadata_dev', 'origin')


class Dust(Target):
    """``dust <device> <offset> <block size in bytes>`` (not built in Debian's cloud kernels)."""
    name = 'dust'
    positional = (('device', 'dev'), ('offset', 'sectors'), ('block_size_bytes', 'int'))
    device_keys = ('device',)


class Unstriped(Target):
    """``unstriped <#stripes> <chunk size> <stripe #> <device> <offset>``."""
    name = 'unstriped'
    positional = (('stripes', 'int'), ('chunk_size', 'sectors'), ('stripe', 'int'),
                  ('device', 'dev'), ('offset', 'sectors'))
    device_keys = ('device',)


class Thin(Target):
    """``thin <pool dev> <dev_id> [<external origin dev>]``."""
    name = 'thin'
    positional = (('pool', 'dev'), ('dev_id', 'int'), ('external_origin?', 'dev'))
    device_keys = ('pool', 'external_origin')

    @classmethod
    def _convert(cls, kind, value, what):
        if what.endswith('dev_id'):
            return _int(value, what, 0, (1 << 24) - 1)
        return super(Thin, cls)._convert(kind, value, what)


class Snapshot(Target):
    """``snapshot <origin> <COW dev> <P|PO|N> <chunk size>`` (also the base of snapshot-merge)."""
    name = 'snapshot'
    positional = (('origin', 'dev'), ('cow', 'dev'), ('persistent', 'str'), ('chunk_size', 'sectors'))
    device_keys = ('origin', 'cow')
    defaults = {'persistent': 'P', 'chunk_size': '4KiB'}

    @classmethod
    def _convert(cls, kind, value, what):
        if what.endswith('persistent'):
            if isinstance(value, bool):
                value = 'P' if value else 'N'
            return _choice(str(value).upper(), what, ('P', 'PO', 'N'))
        value = super(Snapshot, cls)._convert(kind, value, what)
        if what.endswith('chunk_size') and (value < 1 or value & (value - 1)):
            raise DmError('%s: %d sectors; expected a power of two (8 sectors = 4 KiB is usual)' % (what, value))
        return value


class SnapshotMerge(Snapshot):
    """``snapshot-merge <origin> <COW dev> <P|PO> <chunk size>``: replaces the origin's table."""
    name = 'snapshot-merge'


class _DevOffsetList(Target):
    """Targets made of ``<device> <offset>`` pairs plus a header."""

    @staticmethod
    def _pairs(items, what):
        out = []
        for i, item in enumerate(items or []):
            if isinstance(item, str):
                item = {'device': item}
            if not isinstance(item, dict):
                raise DmError('%s[%d]: %r is not a device or a dict with device and offset' % (what, i, item))
            out.append((_device(item.get('device'), '%s[%d] device' % (what, i)),
                        _sectors(item.get('offset', 0), '%s[%d] offset' % (what, i))))
        return out

    def devices(self):
        return [dev for dev, _off in self.params['devices']]


class Striped(_DevOffsetList):
    """``striped <#stripes> <chunk size> (<device> <offset>)+``."""
    name = 'striped'

    @classmethod
    def from_params(cls, params):
        devices = cls._pairs(params.get('devices'), 'striped devices')
        if len(devices) < 1:
            raise DmError('striped devices: expected at least one device, got %r' % (params.get('devices'),))
        chunk = _sectors(params.get('chunk_size', '64KiB'), 'striped chunk_size')
        if chunk < 8 or chunk & (chunk - 1):
            raise DmError('striped chunk_size: %d sectors; expected a power of two >= 8 sectors (4 KiB)' % chunk)
        return cls(chunk_size=chunk, devices=devices)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        count = _int(_take(t, 0, 1, 'striped')[0], 'striped #stripes', 1)
        chunk = _int(_take(t, 1, 1, 'striped')[0], 'striped chunk size')
        rest = _take(t, 2, 2 * count, 'striped devices')
        if len(t) != 2 + 2 * count:
            raise DmError('striped: %d stripes need %d arguments, got %d: %r' % (count, 2 + 2 * count, len(t), ' '.join(t)))
        return cls(chunk_size=chunk, devices=[(rest[i], int(rest[i + 1])) for i in range(0, len(rest), 2)])

    def args(self):
        out = [str(len(self.params['devices'])), str(self.params['chunk_size'])]
        for dev, off in self.params['devices']:
            out += [dev, str(off)]
        return out


class Delay(_DevOffsetList):
    """``delay <dev> <offset> <ms> [<write dev> <offset> <ms> [<flush dev> <offset> <ms>]]``."""
    name = 'delay'
    CLASSES = ('read', 'write', 'flush')

    @classmethod
    def from_params(cls, params):
        legs = []
        for key in cls.CLASSES:
            leg = params.get(key)
            if leg is None:
                if key == 'read':
                    raise DmError('delay target: option read is required (device, offset, delay_ms)')
                break
            dev, off = cls._pairs([leg], 'delay ' + key)[0]
            legs.append((dev, off, _int(leg.get('delay_ms', 0), 'delay %s delay_ms' % key)))
        extra = [k for k in cls.CLASSES[len(legs):] if params.get(k) is not None]
        if extra:
            raise DmError('delay %s: given without the class before it' % extra[0])
        return cls(legs=legs)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        if len(t) not in (3, 6, 9):
            raise DmError('delay: expected 3, 6 or 9 arguments (<dev> <offset> <ms> per read/write/flush), got %d: %r'
                          % (len(t), ' '.join(t)))
        return cls(legs=[(t[i], _int(t[i + 1], 'delay offset'), _int(t[i + 2], 'delay ms')) for i in range(0, len(t), 3)])

    def args(self):
        return [str(x) for leg in self.params['legs'] for x in leg]

    def devices(self):
        return [leg[0] for leg in self.params['legs']]


class Flakey(Target):
    """``flakey <dev> <offset> <up secs> <down secs> [<#feature args> <feature args>...]``.

    features: a list of ``drop_writes``, ``error_writes``, ``error_reads`` (6.12),
    ``{corrupt_bio_byte: {nth_byte, direction r|w, value, flags}}``,
    ``{random_read_corrupt: probability}``, ``{random_write_corrupt: probability}`` (6.12).
    """
    name = 'flakey'
    device_keys = ('device',)
    FLAGS = ('drop_writes', 'error_reads', 'error_writes')
    ORDER = ('drop_writes', 'error_reads', 'error_writes', 'corrupt_bio_byte', 'random_read_corrupt', 'random_write_corrupt')

    @classmethod
    def from_params(cls, params):
        features = {}
        for item in params.get('features') or []:
            if isinstance(item, str) and item in cls.FLAGS:
                features[item] = True
            elif isinstance(item, dict) and len(item) == 1 and list(item)[0] in cls.ORDER[3:]:
                key, value = list(item.items())[0]
                if key == 'corrupt_bio_byte':
                    value = value or {}
                    features[key] = (_int(value.get('nth_byte'), 'flakey corrupt_bio_byte nth_byte', 1),
                                     _choice(value.get('direction', 'w'), 'flakey corrupt_bio_byte direction', ('r', 'w')),
                                     _int(value.get('value', 0), 'flakey corrupt_bio_byte value', 0, 255),
                                     _int(value.get('flags', 0), 'flakey corrupt_bio_byte flags'))
                else:
                    features[key] = _int(value, 'flakey %s probability' % key, 0, 1000000000)
            else:
                raise DmError('flakey features: %r is not one of %s (the last three as {name: value})'
                              % (item, ', '.join(cls.ORDER)))
        return cls(device=_device(params.get('device'), 'flakey device'),
                   offset=_sectors(params.get('offset', 0), 'flakey offset'),
                   up=_int(params.get('up_interval'), 'flakey up_interval'),
                   down=_int(params.get('down_interval'), 'flakey down_interval'),
                   features=features, explicit_zero=False)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        head = _take(t, 0, 4, 'flakey')
        features = {}
        explicit_zero = False
        if len(t) > 4:
            words, end = _counted(t, 4, 'flakey features')
            if end != len(t):
                raise DmError('flakey: unexpected arguments after the features: %r' % ' '.join(t[end:]))
            explicit_zero = not words
            i = 0
            while i < len(words):
                word = words[i]
                if word in cls.FLAGS:
                    features[word] = True
                    i += 1
                elif word == 'corrupt_bio_byte':
                    v = _take(words, i + 1, 4, 'flakey corrupt_bio_byte')
                    features[word] = (_int(v[0], 'corrupt_bio_byte nth_byte'), v[1], _int(v[2], 'corrupt_bio_byte value'),
                                      _int(v[3], 'corrupt_bio_byte flags'))
                    i += 5
                elif word in ('random_read_corrupt', 'random_write_corrupt'):
                    features[word] = _int(_take(words, i + 1, 1, 'flakey ' + word)[0], word)
                    i += 2
                else:
                    raise DmError('flakey features: unknown feature %r; expected one of %s' % (word, ', '.join(cls.ORDER)))
        return cls(device=head[0], offset=_int(head[1], 'flakey offset'), up=_int(head[2], 'flakey up'),
                   down=_int(head[3], 'flakey down'), features=features, explicit_zero=explicit_zero)

    def _feature_words(self, order):
        words = []
        for key in order:
            value = self.params['features'].get(key)
            if value is None:
                continue
            words.append(key)
            if key == 'corrupt_bio_byte':
                words += [str(v) for v in value]
            elif value is not True:
                words.append(str(value))
        return words

    def args(self):
        p = self.params
        out = [p['device'], str(p['offset']), str(p['up']), str(p['down'])]
        words = self._feature_words([k for k in self.ORDER if k in p['features']])
        if words or p.get('explicit_zero'):
            out += [str(len(words))] + words
        return out

    def canonical(self, resolve=None, kernel=None):
        p = self.params
        features = dict(p['features'])
        # 6.12 makes "no feature" mean error both reads and writes, and says so; 6.1 echoes "0".
        # Measured on those two only: 6.6 (the release that brought error_reads) is assumed to
        # be where it changed. None means the newest known behaviour.
        if kernel is None or kernel >= (6, 6):
            if not features:
                features = {'error_reads': True, 'error_writes': True}
        clone = Flakey(**dict(p, features=features))
        words = clone._feature_words(self.ORDER)
        return [resolved(p['device'], resolve), str(p['offset']), str(p['up']), str(p['down']), str(len(words))] + words

    def devices(self):
        return [self.params['device']]


def _features_from(params, key, allowed, what):
    features = params.get(key) or []
    if isinstance(features, str):
        features = [features]
    for feature in features:
        _choice(feature, what, allowed)
    return list(features)


class ThinPool(Target):
    """``thin-pool <metadata dev> <data dev> <block size> <low water mark> [<#features> <features>...]``.

    block size: a multiple of 128 sectors (64 KiB) from 128 to 2097152 (1 GiB); low water
    mark in blocks; features in any order, echoed in the kernel's order.
    """
    name = 'thin-pool'
    device_keys = ('metadata_dev', 'data_dev')
    FEATURES = ('skip_block_zeroing', 'ignore_discard', 'no_discard_passdown', 'read_only', 'error_if_no_space')

    @staticmethod
    def check_block_size(sectors, what='thin-pool block_size', given=None):
        if sectors % 128 or not 128 <= sectors <= 2097152:
            value = '%r (%d sectors)' % (given, sectors) if given is not None and given != sectors else \
                '%d sectors' % sectors
            raise DmError('%s: %s; expected a multiple of 128 sectors (64 KiB) from 128 (64 KiB) '
                          'to 2097152 (1 GiB)' % (what, value))
        return sectors

    @classmethod
    def from_params(cls, params):
        return cls(metadata_dev=_device(params.get('metadata_dev'), 'thin-pool metadata_dev'),
                   data_dev=_device(params.get('data_dev'), 'thin-pool data_dev'),
                   block_size=cls.check_block_size(_sectors(params.get('block_size', '64KiB'), 'thin-pool block_size'),
                                                   given=params.get('block_size', '64KiB')),
                   low_water_mark=_int(params.get('low_water_mark', 0), 'thin-pool low_water_mark'),
                   features=_features_from(params, 'features', cls.FEATURES, 'thin-pool features'))

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        head = _take(t, 0, 4, 'thin-pool')
        features = []
        if len(t) > 4:
            features, end = _counted(t, 4, 'thin-pool features')
            if end != len(t):
                raise DmError('thin-pool: unexpected arguments after the features: %r' % ' '.join(t[end:]))
            for feature in features:
                _choice(feature, 'thin-pool feature', cls.FEATURES)
        return cls(metadata_dev=head[0], data_dev=head[1],
                   block_size=cls.check_block_size(_int(head[2], 'thin-pool block size')),
                   low_water_mark=_int(head[3], 'thin-pool low water mark'), features=features)

    def args(self):
        p = self.params
        return [p['metadata_dev'], p['data_dev'], str(p['block_size']), str(p['low_water_mark']),
                str(len(p['features']))] + p['features']

    def canonical(self, resolve=None, kernel=None):
        out = self._resolve_tokens(self.args()[:4], resolve)
        features = [f for f in self.FEATURES if f in self.params['features']]
        return out + [str(len(features))] + features


class Cache(Target):
    """``cache <metadata> <cache> <origin> <block size> <#features> <features> <policy> <#policy args> <args>``.

    mode writethrough | writeback | passthrough (writeback when none is given), metadata2,
    no_discard_passdown; policy smq, cleaner or default with policy args such as
    ``migration_threshold``. The kernel echoes the constructor arguments as given.
    """
    name = 'cache'
    device_keys = ('metadata_dev', 'cache_dev', 'origin')
    MODES = ('writethrough', 'writeback', 'passthrough')
    FEATURES = MODES + ('metadata2', 'no_discard_passdown')
    POLICIES = ('smq', 'cleaner', 'default', 'mq')

    @classmethod
    def from_params(cls, params):
        features = []
        if params.get('mode'):
            features.append(_choice(params['mode'], 'cache mode', cls.MODES))
        if params.get('metadata2'):
            features.append('metadata2')
        if params.get('discard_passdown') is False:
            features.append('no_discard_passdown')
        policy_args = []
        for key, value in sorted((params.get('policy_args') or {}).items()):
            policy_args += [str(key), str(_int(value, 'cache policy_args %s' % key))]
        block = _sectors(params.get('block_size', '64KiB'), 'cache block_size')
        if block % 64 or not 64 <= block <= 2097152:
            raise DmError('cache block_size: %d sectors; expected a multiple of 64 sectors (32 KiB) from 64 to 2097152 (1 GiB)'
                          % block)
        return cls(metadata_dev=_device(params.get('metadata_dev'), 'cache metadata_dev'),
                   cache_dev=_device(params.get('cache_dev'), 'cache cache_dev'),
                   origin=_device(params.get('origin'), 'cache origin'), block_size=block, features=features,
                   policy=_choice(params.get('policy', 'smq'), 'cache policy', cls.POLICIES), policy_args=policy_args)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        head = _take(t, 0, 4, 'cache')
        features, i = _counted(t, 4, 'cache features')
        for feature in features:
            _choice(feature, 'cache feature', cls.FEATURES)
        policy = _take(t, i, 1, 'cache policy')[0]
        policy_args, end = _counted(t, i + 1, 'cache policy args')
        if end != len(t):
            raise DmError('cache: unexpected arguments after the policy args: %r' % ' '.join(t[end:]))
        return cls(metadata_dev=head[0], cache_dev=head[1], origin=head[2], block_size=_int(head[3], 'cache block size'),
                   features=features, policy=policy, policy_args=policy_args)

    def args(self):
        p = self.params
        return ([p['metadata_dev'], p['cache_dev'], p['origin'], str(p['block_size']), str(len(p['features']))]
                + p['features'] + [p['policy'], str(len(p['policy_args']))] + p['policy_args'])


class Crypt(Target):
    """``crypt <cipher> <key> <iv_offset> <device> <offset> [<#opt> <opt>...]``.

    key: hex, or a keyring reference ``:<key size>:<logon|user|encrypted|trusted>:<description>``.
    A hex key is never rendered by ``redacted()``, ``repr()`` or an error; the kernel echoes it
    as zeros of the same length (only ``dmsetup table --showkeys`` shows it), so the canonical
    form does the same and a wanted key cannot be compared with the live one.
    """
    name = 'crypt'
    device_keys = ('device',)
    FLAGS = ('allow_discards', 'same_cpu_crypt', 'submit_from_crypt_cpus', 'no_read_workqueue',
             'no_write_workqueue', 'iv_large_sectors', 'high_priority')

    @staticmethod
    def _check_key(key):
        key = '' if key is None else str(key)
        if _KEYRING_RE.match(key):
            return key
        if key and len(key) % 2 == 0 and _HEX_RE.match(key):
            return key
        if key == '-':
            return key
        raise DmError('crypt key: not a hex key nor a keyring reference; expected an even number of hex digits or '
                      ':<key size>:<logon|user|encrypted|trusted>:<description> (the value is not shown)')

    @classmethod
    def _check_options(cls, options):
        for opt in options:
            name = opt.split(':', 1)[0]
            if opt not in cls.FLAGS and name not in ('sector_size', 'integrity'):
                raise DmError('crypt options: %r is not one of %s, sector_size:<bytes>, integrity:<bytes>:<type>'
                              % (opt, ', '.join(cls.FLAGS)))
            if name == 'sector_size':
                size = _int(opt.split(':', 1)[1] if ':' in opt else '', 'crypt sector_size', 512, 4096)
                if size & (size - 1):
                    raise DmError('crypt sector_size: %d; expected a power of two from 512 to 4096' % size)
        return list(options)

    @classmethod
    def from_params(cls, params):
        cipher = str(params.get('cipher') or '')
        if not cipher or ' ' in cipher:
            raise DmError('crypt cipher: %r; expected a cipher spec such as aes-xts-plain64 or capi:...' % cipher)
        return cls(cipher=cipher, key=cls._check_key(params.get('key')),
                   iv_offset=_int(params.get('iv_offset', 0), 'crypt iv_offset'),
                   device=_device(params.get('device'), 'crypt device'),
                   offset=_sectors(params.get('offset', 0), 'crypt offset'),
                   options=cls._check_options(params.get('options') or []))

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        if len(t) < 5:
            raise DmError('crypt: expected <cipher> <key> <iv_offset> <device> <offset> [options], got %d argument(s)'
                          % len(t))
        options = []
        if len(t) > 5:
            options, end = _counted(t, 5, 'crypt options')
            if end != len(t):
                raise DmError('crypt: unexpected arguments after the options')
        return cls(cipher=t[0], key=cls._check_key(t[1]), iv_offset=_int(t[2], 'crypt iv_offset'), device=t[3],
                   offset=_int(t[4], 'crypt offset'), options=cls._check_options(options))

    def _render(self, key):
        p = self.params
        out = [p['cipher'], key, str(p['iv_offset']), p['device'], str(p['offset'])]
        if p['options']:
            out += [str(len(p['options']))] + p['options']
        return out

    def args(self):
        return self._render(self.params['key'])

    def _hidden(self):
        key = self.params['key']
        return key if key.startswith(':') or key == '-' else '0' * len(key)

    def canonical(self, resolve=None, kernel=None):
        return self._resolve_tokens(self._render(self._hidden()), resolve)

    def echoed(self, resolve=None):
        # a table read with --showkeys must not leak into a diff either
        return self.canonical(resolve)

    def redacted(self):
        key = self.params['key']
        return ' '.join(self._render(key if key.startswith(':') or key == '-' else '<redacted>'))

    def __eq__(self, other):
        return type(self) is type(other) and self.params == other.params

    def __hash__(self):
        return hash((self.name, self.params['cipher'], self.params['device']))


class Integrity(Target):
    """``integrity <dev> <reserved sectors> <tag size> <J|B|D|R> [<#opt> <opt>...]``.

    The kernel echoes its defaulted options (journal_sectors, interleave_sectors, ...) whose
    values depend on the device; ``differences`` therefore compares only the options the
    wanted table names.
    """
    name = 'integrity'
    device_keys = ('device',)
    MODES = ('J', 'B', 'D', 'R')

    @classmethod
    def from_params(cls, params):
        options = []
        for key, value in (params.get('options') or {}).items():
            options.append('%s:%s' % (key, value) if value is not True else str(key))
        return cls(device=_device(params.get('device'), 'integrity device'),
                   reserved=_sectors(params.get('reserved_sectors', 0), 'integrity reserved_sectors'),
                   tag_size=_int(params.get('tag_size', 4), 'integrity tag_size', 1),
                   mode=_choice(params.get('mode', 'J'), 'integrity mode', cls.MODES), options=options)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        head = _take(t, 0, 4, 'integrity')
        options = []
        if len(t) > 4:
            options, end = _counted(t, 4, 'integrity options')
            if end != len(t):
                raise DmError('integrity: unexpected arguments after the options')
        return cls(device=head[0], reserved=_int(head[1], 'integrity reserved sectors'),
                   tag_size=_int(head[2], 'integrity tag size'), mode=_choice(head[3], 'integrity mode', cls.MODES),
                   options=options)

    def args(self):
        p = self.params
        # the kernel wants the option count even when it is 0
        return [p['device'], str(p['reserved']), str(p['tag_size']), p['mode'], str(len(p['options']))] + p['options']

    # options the kernel never echoes back: one-shot requests, and block_size at its default
    UNECHOED = ('recalculate', 'reset_recalculate', 'block_size:512')
    # options whose value is an algorithm and a key: only the algorithm is echoed
    KEYED = ('internal_hash', 'journal_crypt', 'journal_mac')

    def _comparable(self, option, resolve):
        key, sep, value = option.partition(':')
        if option in self.UNECHOED:
            return None
        if key in self.KEYED and sep:
            return '%s:%s' % (key, value.split(':')[0])
        if key == 'meta_device' and sep:
            return 'meta_device:%s' % resolved(value, resolve)
        return option

    def _hide(self, option):
        key, sep, value = option.partition(':')
        alg, sep2, _secret = value.partition(':')
        return '%s:%s:<redacted>' % (key, alg) if key in self.KEYED and sep and sep2 else option

    def canonical(self, resolve=None, kernel=None):
        # the kernel echoes only the algorithm of a keyed option: the key never leaves args()
        out = self._resolve_tokens(self.args()[:5], resolve)
        return out + [self._comparable(o, resolve) or o for o in self.params['options']]

    def redacted(self):
        return ' '.join(self.args()[:5] + [self._hide(o) for o in self.params['options']])

    def secrets(self):
        """The keys of keyed options (internal_hash/journal_crypt/journal_mac ALG:KEY)."""
        return [o.split(':', 2)[2] for o in self.params['options']
                if o.partition(':')[0] in self.KEYED and o.count(':') >= 2 and o.split(':', 2)[2]]

    def differences(self, live, resolve=None, kernel=None):
        if live.name != self.name:
            return ['target type: wanted %s, live %s' % (self.name, live.name)]
        want, have = self.canonical(resolve)[:4], live.canonical(resolve)[:4]
        out = []
        if want != have:
            out.append('integrity args: wanted %r, live %r' % (' '.join(want), ' '.join(have)))
        live_options = [live._comparable(o, resolve) for o in live.params['options']]
        missing = [o for o in self.params['options']
                   if self._comparable(o, resolve) not in live_options + [None]]
        if missing:
            out.append('integrity options: wanted %s, live has %s'
                       % (' '.join(self._hide(o) for o in missing), ' '.join(live.params['options']) or 'none'))
        return out


class Verity(Target):
    """``verity <version> <data dev> <hash dev> <data block> <hash block> <#blocks> <hash start> <alg> <digest> <salt> [opts]``."""
    name = 'verity'
    device_keys = ('data_dev', 'hash_dev')
    KEYS = ('version', 'data_dev', 'hash_dev', 'data_block_size', 'hash_block_size', 'num_data_blocks',
            'hash_start_block', 'algorithm', 'digest', 'salt')

    @classmethod
    def from_params(cls, params):
        values = dict(version=_int(params.get('version', 1), 'verity version', 0, 1),
                      data_dev=_device(params.get('data_dev'), 'verity data_dev'),
                      hash_dev=_device(params.get('hash_dev'), 'verity hash_dev'),
                      data_block_size=_int(params.get('data_block_size', 4096), 'verity data_block_size', 512),
                      hash_block_size=_int(params.get('hash_block_size', 4096), 'verity hash_block_size', 512),
                      num_data_blocks=_int(params.get('num_data_blocks'), 'verity num_data_blocks', 1),
                      hash_start_block=_int(params.get('hash_start_block', 0), 'verity hash_start_block'),
                      algorithm=str(params.get('algorithm', 'sha256')),
                      digest=str(params.get('digest') or ''), salt=str(params.get('salt') or '-'),
                      options=list(params.get('options') or []))
        for key in ('digest', 'salt'):
            if values[key] != '-' and not (values[key] and _HEX_RE.match(values[key])):
                raise DmError('verity %s: %r; expected hex digits%s' % (key, values[key], ' or -' if key == 'salt' else ''))
        return cls(**values)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        head = _take(t, 0, 10, 'verity')
        values = dict(zip(cls.KEYS, head))
        for key in ('version', 'data_block_size', 'hash_block_size', 'num_data_blocks', 'hash_start_block'):
            values[key] = _int(values[key], 'verity ' + key)
        values['options'] = []
        if len(t) > 10:
            values['options'], end = _counted(t, 10, 'verity options')
            if end != len(t):
                raise DmError('verity: unexpected arguments after the options')
        return cls(**values)

    def args(self):
        out = [str(self.params[k]) for k in self.KEYS]
        if self.params['options']:
            out += [str(len(self.params['options']))] + self.params['options']
        return out

    # the kernel's echo order; a valued option is followed by its value
    ORDER = ('ignore_corruption', 'restart_on_corruption', 'panic_on_corruption', 'restart_on_error', 'panic_on_error',
             'ignore_zero_blocks', 'use_fec_from_device', 'fec_blocks', 'fec_start', 'fec_roots', 'check_at_most_once',
             'root_hash_sig_key_desc', 'try_verify_in_tasklet')
    VALUED = ('use_fec_from_device', 'fec_blocks', 'fec_start', 'fec_roots', 'root_hash_sig_key_desc')

    def canonical(self, resolve=None, kernel=None):
        words, groups, i = self.params['options'], {}, 0
        while i < len(words):
            size = 2 if words[i] in self.VALUED else 1
            groups[words[i]] = words[i:i + size]
            i += size
        ordered = [w for key in self.ORDER if key in groups for w in groups[key]]
        ordered += [w for key in groups if key not in self.ORDER for w in groups[key]]
        out = self._resolve_tokens([str(self.params[k]) for k in self.KEYS], resolve)
        return out + ([str(len(ordered))] + ordered if ordered else [])

    def devices(self):
        return [self.params['data_dev'], self.params['hash_dev']]


class Writecache(Target):
    """``writecache <p|s> <origin> <cache dev> <block size> <#opt> <opt>...``; options echoed in the kernel's order."""
    name = 'writecache'
    device_keys = ('origin', 'cache_dev')
    VALUED = ('start_sector', 'high_watermark', 'low_watermark', 'writeback_jobs', 'autocommit_blocks',
              'autocommit_time', 'max_age')
    FLAGS = ('fua', 'nofua', 'cleaner', 'metadata_only', 'pause_writeback')
    ORDER = ('start_sector', 'high_watermark', 'low_watermark', 'writeback_jobs', 'autocommit_blocks',
             'autocommit_time', 'fua', 'nofua', 'cleaner', 'max_age', 'metadata_only', 'pause_writeback')

    @classmethod
    def _check(cls, options):
        for key, value in options.items():
            if key in cls.VALUED:
                _int(value, 'writecache ' + key)
            elif key not in cls.FLAGS:
                raise DmError('writecache options: %r is not one of %s' % (key, ', '.join(cls.ORDER)))
        return options

    @classmethod
    def from_params(cls, params):
        options = {}
        for key, value in (params.get('options') or {}).items():
            options[key] = True if key in cls.FLAGS and value is True else str(value)
        block = _int(params.get('block_size', 4096), 'writecache block_size', 512, 4096)
        if block & (block - 1):
            raise DmError('writecache block_size: %d bytes; expected a power of two from 512 to 4096' % block)
        return cls(kind=_choice(params.get('kind', 's'), 'writecache kind', ('p', 's')),
                   origin=_device(params.get('origin'), 'writecache origin'),
                   cache_dev=_device(params.get('cache_dev'), 'writecache cache_dev'),
                   block_size=block, options=cls._check(options))

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        head = _take(t, 0, 4, 'writecache')
        words, end = _counted(t, 4, 'writecache options') if len(t) > 4 else ([], 4)
        if end != len(t):
            raise DmError('writecache: unexpected arguments after the options')
        options, i = {}, 0
        while i < len(words):
            if words[i] in cls.VALUED:
                options[words[i]] = _take(words, i + 1, 1, 'writecache ' + words[i])[0]
                i += 2
            else:
                options[words[i]] = True
                i += 1
        return cls(kind=_choice(head[0], 'writecache kind', ('p', 's')), origin=head[1], cache_dev=head[2],
                   block_size=_int(head[3], 'writecache block size'), options=cls._check(options))

    def _words(self, order):
        words = []
        for key in order:
            value = self.params['options'].get(key)
            if value is None:
                continue
            words += [key] if value is True else [key, str(value)]
        return words

    def args(self):
        p = self.params
        words = self._words(list(p['options']))
        return [p['kind'], p['origin'], p['cache_dev'], str(p['block_size']), str(len(words))] + words

    def canonical(self, resolve=None, kernel=None):
        words = self._words(self.ORDER)
        return self._resolve_tokens(self.args()[:4], resolve) + [str(len(words))] + words


class Mirror(Target):
    """``mirror <log type> <#log args> <log args> <#mirrors> (<dev> <offset>)+ [<#features> <features>]``."""
    name = 'mirror'

    @classmethod
    def from_params(cls, params):
        region = _sectors(params.get('region_size', '512KiB'), 'mirror region_size')
        if region < 8 or region & (region - 1):
            raise DmError('mirror region_size: %d sectors; expected a power of two >= 8 sectors (4 KiB)' % region)
        log_args = [str(a) for a in params.get('log_args') or [str(region)]]
        if params.get('nosync'):
            log_args.append('nosync')
        legs = _DevOffsetList._pairs(params.get('devices'), 'mirror devices')
        if len(legs) < 2:
            raise DmError('mirror devices: expected at least 2, got %d' % len(legs))
        features = _features_from(params, 'features', ('handle_errors', 'keep_log'), 'mirror features')
        return cls(log_type=_choice(params.get('log_type', 'core'), 'mirror log_type', ('core', 'disk')),
                   log_args=log_args, legs=legs, features=features)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        log_type = _take(t, 0, 1, 'mirror')[0]
        log_args, i = _counted(t, 1, 'mirror log args')
        count = _int(_take(t, i, 1, 'mirror #mirrors')[0], 'mirror #mirrors', 1)
        legs = _take(t, i + 1, 2 * count, 'mirror devices')
        i += 1 + 2 * count
        features = []
        if i < len(t):
            features, i = _counted(t, i, 'mirror features')
        if i != len(t):
            raise DmError('mirror: unexpected arguments after the features')
        return cls(log_type=log_type, log_args=log_args,
                   legs=[(legs[j], _int(legs[j + 1], 'mirror offset')) for j in range(0, len(legs), 2)], features=features)

    def args(self):
        p = self.params
        out = [p['log_type'], str(len(p['log_args']))] + p['log_args'] + [str(len(p['legs']))]
        for dev, off in p['legs']:
            out += [dev, str(off)]
        if p['features']:
            out += [str(len(p['features']))] + p['features']
        return out

    def devices(self):
        devs = [dev for dev, _off in self.params['legs']]
        if self.params['log_type'] == 'disk' and self.params['log_args']:
            devs.insert(0, self.params['log_args'][0])
        return devs


class Raid(Target):
    """``raid <raid type> <#params> <chunk size> [<param>...] <#devs> (<meta dev>|- <data dev>)+``.

    raid types: raid1, raid4, raid5_* (la, ra, ls, rs, ...), raid6_* (zr, nr, nc, ...), raid10.
    """
    name = 'raid'
    TYPES = ('raid0', 'raid1', 'raid4', 'raid5_la', 'raid5_ra', 'raid5_ls', 'raid5_rs', 'raid5_n',
             'raid6_zr', 'raid6_nr', 'raid6_nc', 'raid6_n_6', 'raid10')

    @classmethod
    def from_params(cls, params):
        raid_type = _choice(params.get('raid_type'), 'raid raid_type', cls.TYPES)
        chunk = _sectors(params.get('chunk_size', 0 if raid_type == 'raid1' else '64KiB'), 'raid chunk_size')
        extra = []
        for key, value in (params.get('raid_params') or {}).items():
            extra += [str(key)] if value is True else [str(key), str(value)]
        legs = []
        for i, leg in enumerate(params.get('devices') or []):
            if isinstance(leg, str):
                leg = {'data': leg}
            legs.append((_device(leg['metadata'], 'raid devices[%d] metadata' % i) if leg.get('metadata') else '-',
                         _device(leg.get('data'), 'raid devices[%d] data' % i)))
        minimum = {'raid1': 2, 'raid4': 3, 'raid10': 2}.get(raid_type, 4 if raid_type.startswith('raid6') else 3)
        if raid_type == 'raid0':
            minimum = 1
        if len(legs) < minimum:
            raise DmError('raid devices: %s needs at least %d devices, got %d' % (raid_type, minimum, len(legs)))
        return cls(raid_type=raid_type, raid_params=[str(chunk)] + extra, legs=legs)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        raid_type = _take(t, 0, 1, 'raid')[0]
        raid_params, i = _counted(t, 1, 'raid params')
        count = _int(_take(t, i, 1, 'raid #devs')[0], 'raid #devs', 1)
        legs = _take(t, i + 1, 2 * count, 'raid devices')
        if i + 1 + 2 * count != len(t):
            raise DmError('raid: %d devices need %d arguments after the params, got %d' % (count, 2 * count, len(t) - i - 1))
        return cls(raid_type=raid_type, raid_params=raid_params, legs=[(legs[j], legs[j + 1]) for j in range(0, len(legs), 2)])

    def args(self):
        p = self.params
        out = [p['raid_type'], str(len(p['raid_params']))] + p['raid_params'] + [str(len(p['legs']))]
        for meta, data in p['legs']:
            out += [meta, data]
        return out

    def devices(self):
        return [d for leg in self.params['legs'] for d in leg if d != '-']


class Multipath(Target):
    """``multipath <#features> <features> <#hw args> <hw args> <#groups> <first group> (<selector> ...)+``.

    Kept as features, hardware handler args and priority groups of paths; path selectors
    round-robin, queue-length and service-time echo a repeat_count of 1 whatever was given;
    features are echoed in the kernel's order (see ``canonical_features``).
    """
    name = 'multipath'

    @classmethod
    def from_params(cls, params):
        groups = []
        for gi, group in enumerate(params.get('groups') or []):
            selector = _choice(group.get('selector', 'service-time'), 'multipath groups[%d] selector' % gi,
                               ('round-robin', 'queue-length', 'service-time', 'historical-service-time', 'io-affinity'))
            path_args = {'service-time': 2}.get(selector, 1)
            paths = []
            for pi, path in enumerate(group.get('paths') or []):
                if isinstance(path, str):
                    path = {'device': path}
                extra = [str(a) for a in path.get('args') or (['1'] + ['1'] * (path_args - 1))]
                paths.append([_device(path.get('device'), 'multipath groups[%d] paths[%d]' % (gi, pi))] + extra)
            if not paths:
                raise DmError('multipath groups[%d]: expected at least one path' % gi)
            groups.append({'selector': selector, 'selector_args': [], 'paths': paths})
        if not groups:
            raise DmError('multipath groups: expected at least one priority group of paths')
        return cls(features=[str(f) for f in params.get('features') or []],
                   hw_handler=[str(a) for a in params.get('hw_handler') or []],
                   first_group=_int(params.get('first_group', 1), 'multipath first_group', 1, len(groups)), groups=groups)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        features, i = _counted(t, 0, 'multipath features')
        hw, i = _counted(t, i, 'multipath hw handler')
        count = _int(_take(t, i, 1, 'multipath #groups')[0], 'multipath #groups')
        first = _int(_take(t, i + 1, 1, 'multipath first group')[0], 'multipath first group')
        i += 2
        groups = []
        for _g in range(count):
            selector = _take(t, i, 1, 'multipath selector')[0]
            sel_args, i = _counted(t, i + 1, 'multipath selector args')
            npaths = _int(_take(t, i, 1, 'multipath #paths')[0], 'multipath #paths')
            nargs = _int(_take(t, i + 1, 1, 'multipath #path args')[0], 'multipath #path args')
            i += 2
            paths = []
            for _p in range(npaths):
                paths.append(_take(t, i, 1 + nargs, 'multipath path'))
                i += 1 + nargs
            groups.append({'selector': selector, 'selector_args': sel_args, 'paths': paths})
        if i != len(t):
            raise DmError('multipath: unexpected arguments after the groups: %r' % ' '.join(t[i:]))
        return cls(features=features, hw_handler=hw, first_group=first, groups=groups)

    # the kernel's echo order of the features; the valued ones are followed by their value
    FEATURE_ORDER = ('queue_if_no_path', 'pg_init_retries', 'pg_init_delay_msecs', 'retain_attached_hw_handler',
                     'queue_mode')
    FEATURE_VALUED = ('pg_init_retries', 'pg_init_delay_msecs', 'queue_mode')

    @classmethod
    def canonical_features(cls, features):
        """Features as the kernel echoes them: its order; ``queue_mode bio`` implies (and echoes)
        ``retain_attached_hw_handler``; the request-based queue modes (rq, mq: the default) and
        ``pg_init_retries 0`` are not echoed."""
        groups, i = {}, 0
        while i < len(features):
            size = 2 if features[i] in cls.FEATURE_VALUED else 1
            groups[features[i]] = list(features[i:i + size])
            i += size
        if groups.get('queue_mode', [None, None])[1:] in (['rq'], ['mq']):
            del groups['queue_mode']
        if groups.get('pg_init_retries', [None, None])[1:] == ['0']:
            del groups['pg_init_retries']
        if groups.get('queue_mode') == ['queue_mode', 'bio']:
            groups['retain_attached_hw_handler'] = ['retain_attached_hw_handler']
        ordered = [w for key in cls.FEATURE_ORDER if key in groups for w in groups[key]]
        return ordered + [w for key in groups if key not in cls.FEATURE_ORDER for w in groups[key]]

    def _render(self, repeat_one):
        p = self.params
        features = self.canonical_features(p['features']) if repeat_one else p['features']
        out = [str(len(features))] + features + [str(len(p['hw_handler']))] + p['hw_handler']
        out += [str(len(p['groups'])), str(p['first_group'])]
        for g in p['groups']:
            nargs = len(g['paths'][0]) - 1 if g['paths'] else 0
            out += [g['selector'], str(len(g['selector_args']))] + g['selector_args'] + [str(len(g['paths'])), str(nargs)]
            for path in g['paths']:
                extra = list(path[1:])
                if repeat_one and extra and g['selector'] in ('round-robin', 'queue-length', 'service-time'):
                    extra[0] = '1'
                out += [path[0]] + extra
        return out

    def args(self):
        return self._render(False)

    def canonical(self, resolve=None, kernel=None):
        return self._resolve_tokens(self._render(True), resolve)

    def devices(self):
        return [path[0] for g in self.params['groups'] for path in g['paths']]


class Switch(Target):
    """``switch <#paths> <region size> <#opt args> <opt args> (<dev> <offset>)+``."""
    name = 'switch'

    @classmethod
    def from_params(cls, params):
        paths = _DevOffsetList._pairs(params.get('devices'), 'switch devices')
        if not paths:
            raise DmError('switch devices: expected at least one device')
        region = _sectors(params.get('region_size', 64), 'switch region_size')
        if region < 1:
            raise DmError('switch region_size: %d; expected >= 1 sector' % region)
        return cls(region_size=region, options=[str(o) for o in params.get('options') or []], paths=paths)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        count = _int(_take(t, 0, 1, 'switch')[0], 'switch #paths', 1)
        region = _int(_take(t, 1, 1, 'switch')[0], 'switch region size', 1)
        options, i = _counted(t, 2, 'switch options')
        rest = _take(t, i, 2 * count, 'switch devices')
        if i + 2 * count != len(t):
            raise DmError('switch: %d paths need %d device arguments, got %d' % (count, 2 * count, len(t) - i))
        return cls(region_size=region, options=options,
                   paths=[(rest[j], _int(rest[j + 1], 'switch offset')) for j in range(0, len(rest), 2)])

    def args(self):
        p = self.params
        out = [str(len(p['paths'])), str(p['region_size']), str(len(p['options']))] + p['options']
        for dev, off in p['paths']:
            out += [dev, str(off)]
        return out

    def devices(self):
        return [dev for dev, _off in self.params['paths']]


class Vdo(Target):
    """``vdo V4 <storage dev> <storage size> <minimum I/O size> <block map cache> <block map period> [<key> <value>]...``.

    Sizes in the table are 4096-byte blocks (the storage size, the block map cache and
    ``maxDiscard``), the minimum I/O size in bytes (512 or 4096). Optional pairs: the thread
    counts ``ack``, ``bio``, ``bioRotationInterval``, ``cpu``, ``hash``, ``logical``,
    ``physical``, then ``maxDiscard``, ``deduplication`` and ``compression`` (``on`` or ``off``).
    Only the V4 form (the one the kernel documents) is modelled. The kernel echoes the
    table exactly as it was loaded (its words, in their order: a path stays a path), so the
    canonical form is the table as given; ``differences`` compares the values, so a pair
    named at its default, or pairs in another order (a table lvm wrote), are the same device.
    The storage must have been formatted for VDO (``vdoformat``, Debian's ``vdo`` package).
    """
    name = 'vdo'
    device_keys = ('storage_dev',)
    VERSION = 'V4'
    BLOCK = 8  # sectors in a 4096-byte block
    IO_SIZES = (512, 4096)
    MAX_PERIOD = 16380
    # table key, option of from_params, minimum, maximum, the kernel's default; the kernel's limits
    COUNTS = (('ack', 'ack_threads', 0, 100, 1), ('bio', 'bio_threads', 1, 100, 4),
              ('bioRotationInterval', 'bio_rotation_interval', 1, 1024, 64), ('cpu', 'cpu_threads', 1, 100, 1),
              ('hash', 'hash_threads', 0, 100, 0), ('logical', 'logical_threads', 0, 60, 0),
              ('physical', 'physical_threads', 0, 16, 0), ('maxDiscard', 'max_discard', 1, 0xffffffff // 4096, 1))
    SWITCHES = (('deduplication', 'deduplication', 'on'), ('compression', 'compression', 'off'))
    ORDER = tuple(c[0] for c in COUNTS) + tuple(s[0] for s in SWITCHES)
    OPTIONS = ('storage_dev', 'physical_size', 'minimum_io_size', 'block_map_cache_size', 'block_map_period') + tuple(
        c[1] for c in COUNTS) + tuple(s[1] for s in SWITCHES)

    @classmethod
    def _blocks(cls, value, what, minimum=1):
        """A size (sectors or units) -> whole 4096-byte blocks."""
        sectors = _sectors(value, what)
        if sectors % cls.BLOCK or sectors < minimum * cls.BLOCK:
            raise DmError('%s: %r (%d sectors); expected a whole number of 4 KiB blocks (8 sectors), at least %d'
                          % (what, value, sectors, minimum))
        return sectors // cls.BLOCK

    @staticmethod
    def _switch(value, what):
        if value is True or value == 'on':
            return 'on'
        if value is False or value == 'off':
            return 'off'
        raise DmError('%s: %r; expected true or false (on or off)' % (what, value))

    @classmethod
    def _check(cls, values, pairs):
        """The checks of the kernel's constructor that need no device: ranges, zones, cache."""
        if values['minimum_io_size'] not in cls.IO_SIZES:
            raise DmError('vdo minimum_io_size: %r; expected 512 or 4096 (bytes)' % (values['minimum_io_size'],))
        _int(values['block_map_period'], 'vdo block_map_period', 1, cls.MAX_PERIOD)
        limits = dict((c[0], c) for c in cls.COUNTS)
        for key, value in pairs:
            if key in limits:
                what = 'vdo %s%s' % (limits[key][1], ' (4 KiB blocks)' if key == 'maxDiscard' else '')
                _int(value, what, limits[key][2], limits[key][3])
        counts = dict(pairs)
        zones = [(k, int(counts.get(k, 0))) for k in ('hash', 'logical', 'physical')]
        if len(set(n == 0 for _k, n in zones)) > 1:
            raise DmError('vdo hash_threads, logical_threads, physical_threads: %s; expected all 0 or all > 0'
                          % ', '.join('%d' % n for _k, n in zones))
        need = 4096 * zones[1][1]
        if values['cache_blocks'] < need:
            raise DmError('vdo block_map_cache_size: %d blocks of 4 KiB; expected at least %d (4096 per logical thread, '
                          '%d logical threads)' % (values['cache_blocks'], need, zones[1][1]))

    @classmethod
    def from_params(cls, params):
        unknown = sorted(set(params) - set(cls.OPTIONS))
        if unknown:
            raise DmError('vdo target: unknown option(s) %s; expected %s' % (', '.join(unknown), ', '.join(cls.OPTIONS)))
        if params.get('physical_size') is None:
            raise DmError('vdo target: option physical_size is required (the size vdoformat gave the VDO volume)')
        values = dict(storage_dev=_device(params.get('storage_dev'), 'vdo storage_dev'),
                      physical_blocks=cls._blocks(params['physical_size'], 'vdo physical_size'),
                      minimum_io_size=_int(params.get('minimum_io_size', 4096), 'vdo minimum_io_size'),
                      cache_blocks=cls._blocks(params.get('block_map_cache_size', '128MiB'), 'vdo block_map_cache_size'),
                      block_map_period=_int(params.get('block_map_period', cls.MAX_PERIOD), 'vdo block_map_period'))
        pairs = []
        for key, option, _low, _high, _default in cls.COUNTS:
            if params.get(option) is None:
                continue
            if key == 'maxDiscard':
                pairs.append((key, cls._blocks(params[option], 'vdo max_discard')))
            else:
                pairs.append((key, _int(params[option], 'vdo ' + option)))
        for key, option, _default in cls.SWITCHES:
            if params.get(option) is not None:
                pairs.append((key, cls._switch(params[option], 'vdo ' + option)))
        cls._check(values, pairs)
        return cls(pairs=pairs, **values)

    @classmethod
    def parse(cls, args):
        t = _tokens(args)
        if t[:1] != [cls.VERSION]:
            raise DmError('vdo: table version %r; expected %s (<storage dev> <storage blocks> <minimum I/O size> '
                          '<block map cache blocks> <block map period> [<key> <value>]...)'
                          % (t[0] if t else '', cls.VERSION))
        head = _take(t, 1, 5, 'vdo')
        rest = t[6:]
        if len(rest) % 2:
            raise DmError('vdo: optional arguments come as <key> <value> pairs; got %d word(s): %r'
                          % (len(rest), ' '.join(rest)))
        pairs = []
        for key, value in zip(rest[0::2], rest[1::2]):
            if key not in cls.ORDER:
                raise DmError('vdo: optional argument %r is not one of %s' % (key, ', '.join(cls.ORDER)))
            if key in ('deduplication', 'compression'):
                if value not in ('on', 'off'):
                    raise DmError('vdo %s: %r; expected on or off' % (key, value))
                pairs.append((key, value))
            else:
                pairs.append((key, _int(value, 'vdo ' + key)))
        values = dict(storage_dev=head[0], physical_blocks=_int(head[1], 'vdo storage size'),
                      minimum_io_size=_int(head[2], 'vdo minimum I/O size'),
                      cache_blocks=_int(head[3], 'vdo block map cache size'),
                      block_map_period=_int(head[4], 'vdo block map period'))
        cls._check(values, pairs)
        return cls(pairs=pairs, **values)

    def args(self):
        p = self.params
        out = [self.VERSION, p['storage_dev'], str(p['physical_blocks']), str(p['minimum_io_size']),
               str(p['cache_blocks']), str(p['block_map_period'])]
        for key, value in p['pairs']:
            out += [key, str(value)]
        return out

    def settings(self):
        """Every optional value in the kernel's terms, defaults filled in: what the device runs with."""
        values = dict((c[0], c[4]) for c in self.COUNTS)
        values.update((s[0], s[2]) for s in self.SWITCHES)
        values.update(self.params['pairs'])
        return values

    def differences(self, live, resolve=None, kernel=None):
        if live.name != self.name or not isinstance(live, Vdo):
            return super(Vdo, self).differences(live, resolve, kernel)
        out = []
        heads = (('storage_dev', 'storage device'), ('physical_blocks', 'storage size (4 KiB blocks)'),
                 ('minimum_io_size', 'minimum I/O size'), ('cache_blocks', 'block map cache (4 KiB blocks)'),
                 ('block_map_period', 'block map period'))
        for key, label in heads:
            want, have = self.params[key], live.params[key]
            if key == 'storage_dev':
                want, have = resolved(want, resolve), resolved(have, resolve)
            if want != have:
                out.append('vdo %s: wanted %s, live %s' % (label, want, have))
        want, have = self.settings(), live.settings()
        for key in self.ORDER:
            if want[key] != have[key]:
                out.append('vdo %s: wanted %s, live %s' % (key, want[key], have[key]))
        return out


class Unknown(Target):
    """A target this module does not model: args kept as they are, compared as they are."""
    name = None

    def __init__(self, name=None, **params):
        super(Unknown, self).__init__(**params)
        self.name = name

    @classmethod
    def parse(cls, args, name=None):
        return cls(name=name, tokens=_tokens(args))

    def args(self):
        return list(self.params['tokens'])

    def redacted(self):
        return ' '.join(self.canonical())

    def canonical(self, resolve=None, kernel=None):
        tokens = self._resolve_tokens(self.args(), resolve)
        if self.name == 'crypt' and len(tokens) > 1:
            # a crypt line this module could not read: its second word may still be a key
            tokens[1] = '<redacted>'
        return tokens

    def echoed(self, resolve=None):
        return self.canonical(resolve)

    def devices(self):
        return [t for t in self.params['tokens'] if DEVNO_RE.match(t) or t.startswith('/dev/')]


TARGETS = dict((cls.name, cls) for cls in (
    Linear, Striped, Error, Zero, Delay, Flakey, Dust, ThinPool, Thin, Cache, Era, Snapshot, SnapshotOrigin,
    SnapshotMerge, Mirror, Raid, Crypt, Integrity, Verity, Writecache, Multipath, Unstriped, Switch, Vdo))


def target_class(name):
    """The class of a target type; DmError naming the known ones for anything else."""
    try:
        return TARGETS[name]
    except KeyError:
        raise DmError('target type %r: expected one of %s' % (name, ', '.join(sorted(TARGETS))))


def parse_target(name, args, strict=False):
    """A target object from its type and args.

    ``strict`` (for what a user wrote): an unknown type or args a class cannot read raise
    DmError. Not strict (for what the kernel echoes, so discovery never fails on a shape it
    has not seen): both give an ``Unknown`` that keeps the args as they are.
    """
    if strict:
        return target_class(name).parse(args)
    if name not in TARGETS:
        return Unknown.parse(args, name=name)
    try:
        return TARGETS[name].parse(args)
    except DmError:
        return Unknown.parse(args, name=name)


def from_params(name, params):
    """A target object from the typed options of the dm_target module; options set to None count as not given."""
    return target_class(name).from_params(dict((k, v) for k, v in (params or {}).items() if v is not None))
