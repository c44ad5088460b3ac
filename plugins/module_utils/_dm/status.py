# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discovery layer: parsers of ``dmsetup status`` lines, one per target type.

``parse_status(target_type, args)`` takes what follows ``<start> <length> <type>`` on a
status line (string or list) and returns a dict; ``parse_status_line(line)`` takes a whole
line and adds ``start``, ``length`` and ``target_type``. Every dict holds ``raw`` (the args
as one string). Targets without a parser here, or a status a parser does not recognise,
give only ``raw`` (a status such as ``Fail`` or ``Error`` gives ``{'failed': True, ...}``), so
discovery never fails on a status it has not seen before. Counts are ints; ``None`` where
the kernel prints ``-``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def _int(token):
    return None if token == '-' else int(token)


def _ratio(token):
    used, total = token.split('/')
    return int(used), int(total)


def _counted(tokens, index):
    count = int(tokens[index])
    return tokens[index + 1:index + 1 + count], index + 1 + count


def thin_pool(t):
    """``<transaction id> <used>/<total metadata> <used>/<total data> <held root|-> <mode> <discard> <no space>``
    ``<needs_check|-> [<metadata low water mark>]``."""
    out = {'transaction_id': int(t[0])}
    out['used_metadata_blocks'], out['total_metadata_blocks'] = _ratio(t[1])
    out['used_data_blocks'], out['total_data_blocks'] = _ratio(t[2])
    out['held_metadata_root'] = _int(t[3])
    out['mode'] = t[4]
    out['discard'] = t[5]
    out['no_space'] = t[6].replace('_if_no_space', '')
    out['needs_check'] = t[7] == 'needs_check'
    out['metadata_low_watermark'] = int(t[8]) if len(t) > 8 else None
    # what a fault under the pool shows: ro after a metadata error, out_of_data_space when full
    out['read_only'] = out['mode'] == 'ro'
    out['out_of_data_space'] = out['mode'] == 'out_of_data_space'
    out['failed'] = False
    return out


def thin(t):
    """``<mapped sectors> <highest mapped sector|->``."""
    return {'mapped_sectors': int(t[0]), 'highest_mapped_sector': _int(t[1]) if len(t) > 1 else None}


def cache(t):
    """Usage, hit and miss counters, dirty blocks, features, core args, policy and mode."""
    out = {'metadata_block_size': int(t[0])}
    out['used_metadata_blocks'], out['total_metadata_blocks'] = _ratio(t[1])
    out['cache_block_size'] = int(t[2])
    out['used_cache_blocks'], out['total_cache_blocks'] = _ratio(t[3])
    keys = ('read_hits', 'read_misses', 'write_hits', 'write_misses', 'demotions', 'promotions', 'dirty_blocks')
    out.update(zip(keys, (int(x) for x in t[4:11])))
    out['features'], i = _counted(t, 11)
    core, i = _counted(t, i)
    out['core_args'] = dict(zip(core[0::2], (int(v) for v in core[1::2])))
    out['policy'] = t[i]
    policy_args, i = _counted(t, i + 1)
    out['policy_args'] = dict(zip(policy_args[0::2], policy_args[1::2]))
    out['metadata_mode'] = t[i]
    out['needs_check'] = len(t) > i + 1 and t[i + 1] == 'needs_check'
    modes = [f for f in out['features'] if f in ('writethrough', 'writeback', 'passthrough')]
    out['mode'] = modes[0] if modes else 'writeback'
    out['read_only'] = out['metadata_mode'] == 'ro'
    out['failed'] = False
    return out


def era(t):
    """``<metadata block size> <used>/<total metadata blocks> <current era> <held root|->``."""
    out = {'metadata_block_size': int(t[0])}
    out['used_metadata_blocks'], out['total_metadata_blocks'] = _ratio(t[1])
    out['current_era'] = int(t[2])
    out['held_metadata_root'] = _int(t[3])
    return out


def snapshot(t):
    """``<allocated>/<total sectors> <metadata sectors>``, or Invalid, Overflow, Merge failed, Unknown."""
    if '/' not in t[0]:
        word = ' '.join(t)
        return {'state': word.lower().replace(' ', '_'), 'invalid': word == 'Invalid', 'overflow': word == 'Overflow'}
    out = {'state': 'valid', 'invalid': False, 'overflow': False}
    out['allocated_sectors'], out['total_sectors'] = _ratio(t[0])
    out['metadata_sectors'] = int(t[1])
    return out


_HEALTH = {'A': 'alive', 'a': 'alive_not_in_sync', 'D': 'dead', 'S': 'sync', 'R': 'read_error', 'U': 'unknown',
           'F': 'flush_failed', 'X': 'error'}


def raid(t):
    """``<type> <#devs> <health chars> <in sync>/<total> <sync action> <mismatches> [<data offset> <journal>]``."""
    out = {'raid_type': t[0], 'devices': int(t[1]), 'health': t[2],
           'device_health': [_HEALTH.get(c, c) for c in t[2]]}
    out['sync_done'], out['sync_total'] = _ratio(t[3])
    out['sync_ratio'] = (out['sync_done'] / out['sync_total']) if out['sync_total'] else 1.0
    out['in_sync'] = out['sync_done'] == out['sync_total'] and all(c == 'A' for c in t[2])
    out['sync_action'] = t[4]
    out['mismatch_count'] = int(t[5]) if len(t) > 5 else None
    out['data_offset'] = int(t[6]) if len(t) > 6 else None
    out['journal'] = t[7] if len(t) > 7 else None
    return out


def mirror(t):
    """``<#mirrors> <dev>... <in sync>/<total regions> <#args> <health chars> <#log args> <log type> [<log args>]``."""
    count = int(t[0])
    out = {'devices': t[1:1 + count]}
    out['in_sync_regions'], out['total_regions'] = _ratio(t[1 + count])
    status_args, i = _counted(t, 2 + count)
    out['health'] = status_args[0] if status_args else ''
    out['device_health'] = [_HEALTH.get(c, c) for c in out['health']]
    log, i = _counted(t, i)
    out['log'] = log
    out['in_sync'] = out['in_sync_regions'] == out['total_regions']
    return out


def integrity(t):
    """``<mismatches> <provided data sectors> <recalculated sector|->``."""
    return {'mismatches': int(t[0]), 'provided_data_sectors': int(t[1]),
            'recalculate_sector': _int(t[2]) if len(t) > 2 else None}


def writecache(t):
    """``<error> <blocks> <free blocks> <blocks under writeback>`` then, on kernels that have them, I/O counters."""
    keys = ('error', 'total_blocks', 'free_blocks', 'writeback_blocks', 'reads', 'read_hits', 'writes',
            'write_hits_uncommitted', 'write_hits_committed', 'writes_around', 'writes_allocate',
            'writes_blocked_on_freelist', 'flushes', 'discards')
    return dict(zip(keys, (int(x) for x in t)))


def striped(t):
    """``<#stripes> <dev>... <#health> <health chars>``."""
    count = int(t[0])
    health = t[2 + count] if len(t) > 2 + count else ''
    return {'devices': t[1:1 + count], 'health': health, 'device_health': [_HEALTH.get(c, c) for c in health]}


def multipath(t):
    """Features, hardware handler, and per priority group its state and paths (device, A/F, fail count)."""
    out = {}
    out['features'], i = _counted(t, 0)
    out['hw_handler'], i = _counted(t, i)
    count = int(t[i])
    out['next_group'] = int(t[i + 1])
    i += 2
    groups = []
    for _g in range(count):
        group = {'state': t[i]}
        _sel, i = _counted(t, i + 1)
        npaths, nargs = int(t[i]), int(t[i + 1])
        i += 2
        group['paths'] = []
        for _p in range(npaths):
            group['paths'].append({'device': t[i], 'state': {'A': 'active', 'F': 'failed'}.get(t[i + 1], t[i + 1]),
                                   'fail_count': int(t[i + 2]), 'selector_args': t[i + 3:i + 3 + nargs]})
            i += 3 + nargs
        groups.append(group)
    out['groups'] = groups
    out['active_paths'] = sum(1 for g in groups for p in g['paths'] if p['state'] == 'active')
    return out


def verity(t):
    """``V`` (verified) or ``C`` (corruption seen), then on newer kernels more words."""
    return {'verified': t[0] == 'V', 'corrupted': t[0] == 'C', 'state': t[0]}


def delay(t):
    """Number of reads, writes (and flushes) waiting in the delay queues."""
    keys = ('reads_queued', 'writes_queued', 'flushes_queued')
    return dict(zip(keys, (int(x) for x in t)))


def dust(t):
    """``<device> <fail_read_on_bad_block|bypass> <verbose|quiet>``."""
    return {'device': t[0], 'mode': t[1], 'failing': t[1] == 'fail_read_on_bad_block', 'quiet': t[2] == 'quiet'}


def vdo(t):
    """``<storage device> <mode> <recovering|-> <index state> <compression state> <used> <total physical blocks>``.

    Blocks of 4096 bytes; the used blocks count the index and metadata too (most of a small
    volume), so deduplication shows as the used count growing less than the data written.
    """
    out = {'storage_device': t[0], 'mode': t[1], 'recovering': t[2] == 'recovering', 'index_state': t[3],
           'compression_state': t[4], 'used_physical_blocks': int(t[5]), 'total_physical_blocks': int(t[6])}
    out['free_physical_blocks'] = out['total_physical_blocks'] - out['used_physical_blocks']
    out['deduplicating'] = out['index_state'] == 'online'
    out['compressing'] = out['compression_state'] == 'online'
    out['read_only'] = out['mode'] == 'read-only'
    out['failed'] = False
    return out


def crypt(t):
    """dm-crypt reports nothing in its status."""
    return {}


PARSERS = {
    'thin-pool': thin_pool, 'thin': thin, 'cache': cache, 'era': era, 'snapshot': snapshot,
    'snapshot-merge': snapshot, 'raid': raid, 'mirror': mirror, 'integrity': integrity,
    'writecache': writecache, 'striped': striped, 'multipath': multipath, 'verity': verity,
    'delay': delay, 'dust': dust, 'crypt': crypt, 'vdo': vdo,
}
_FAILED = ('Fail', 'Error')


def parse_status(target_type, args):
    """The parsed status of one segment; always holds ``raw``; unknown shapes give only ``raw``."""
    tokens = args.split() if isinstance(args, str) else [str(a) for a in args or []]
    out = {'raw': ' '.join(tokens)}
    if tokens and tokens[0] in _FAILED and target_type != 'verity':
        out['failed'] = True
        return out
    parser = PARSERS.get(target_type)
    if parser is None or not tokens and parser is not crypt:
        return out
    try:
        out.update(parser(tokens))
    except (IndexError, ValueError, ZeroDivisionError):
        out['unparsed'] = True
    return out


def parse_status_line(line):
    """A whole ``<start> <length> <type> <args>`` status line -> dict with those and the parsed status."""
    words = line.split()
    out = {'start': int(words[0]), 'length': int(words[1]), 'target_type': words[2]}
    out.update(parse_status(words[2], words[3:]))
    return out
