# -*- coding: utf-8 -*-
"""dmpd suite, the part that runs on the measured host: stdlib only, Python >= 3.9.

    python3 dmpd_agent.py --bundle DIR --cache DIR [--mappings N ...] [--ops check,dump,restore]
                          [--rounds 5] [--python /usr/bin/python3] [--out FILE|-]

For each size it makes (or finds in the cache) thin metadata with that many mappings,
then runs, alternately in one loop, per operation:
  tool    the bare tool, with the argv the module builds (thin_check META, thin_dump -o OUT META,
          thin_restore -i XML -o OUT);
  module  the dmpd_* module as a whole process, ``python3 -m ansible_collections...`` with its
          JSON arguments file, under rss_probe.py (which records the process's own VmHWM);
  import  a bare ``python3 -c 'import ansible.module_utils.basic'``.
The bundle directory holds ``ansible/module_utils`` and the collection's ``plugins`` as an
``ansible_collections`` tree, which is all a module needs on a host without Ansible.
"""

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time

import _measure

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_PREFIX = 'ansible_collections.sts.devicemapper.plugins.modules.'
IMPORT_BASIC = 'import ansible.module_utils.basic'

# The pool the generated metadata describes; the version keys the cache, so change it
# whenever the generator's output changes.
#
# Seven thin volumes and one snapshot of the first, as eight equal shares of the mappings.
# In every volume half of the mapped blocks lie in runs (a file system's extents, written
# sequentially: contiguous in both the volume and the pool, dumped as one range_mapping)
# and half are single blocks with gaps around them (random writes: one single_mapping
# each). Run lengths are log-uniform from 2 to 1024 blocks. After the snapshot, 10% of
# the origin's single blocks were overwritten: the origin maps them to new pool blocks
# (time 1), the snapshot keeps the old ones; every other block is shared by both, so the
# space map holds reference counts of 2 as well as 1. 64 KiB pool blocks; 25% of the
# pool left free on top of the mappings' count.
SHAPE = dict(version=1, thins=7, snapshot_of=1, data_block_size=128, run_min=2, run_max=1024,
             gap_max=64, cow_share=0.10, spare=0.25, seed=11)


def log(msg):
    sys.stderr.write('[dmpd %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


def _extents(seed, count):
    """(origin_block, length) of one volume's mapped extents, in origin order, ``count`` blocks."""
    rng = random.Random(seed)
    lo, hi = math.log(SHAPE['run_min']), math.log(SHAPE['run_max'])
    mean_run = (SHAPE['run_max'] - SHAPE['run_min']) / (hi - lo)
    # A run is rarer than a single block by the mean run length: both then map as many blocks.
    p_run = 1.0 / (1.0 + mean_run)
    origin, left = 0, count
    while left:
        length = min(left, int(round(math.exp(rng.uniform(lo, hi))))) if rng.random() < p_run else 1
        yield origin, length
        origin += length + rng.randint(1, SHAPE['gap_max'])
        left -= length


def generate_xml(path, mappings):
    """Write a thin_dump-style XML file of ``mappings`` mappings, streaming; returns its shape."""
    shares = SHAPE['thins'] + 1
    own = [mappings // shares] * SHAPE['thins']
    own[-1] += mappings - shares * (mappings // shares)
    first = own[0]
    nr_data_blocks = int(math.ceil(mappings * (1 + SHAPE['spare'])))
    counts = dict(single_mapping=0, range_mapping=0, mapped_blocks=mappings, devices=shares,
                  shared_blocks=0, cow_blocks=0, nr_data_blocks=nr_data_blocks,
                  data_block_size=SHAPE['data_block_size'])
    cow_next = sum(own)  # overwritten blocks come after every block allocated before the snapshot
    snap_id = SHAPE['thins'] + 1
    with open(path, 'w', buffering=1 << 20) as out:
        out.write('<superblock uuid="" time="1" transaction="%d" flags="0" version="2" '
                  'data_block_size="%d" nr_data_blocks="%d">\n'
                  % (shares, SHAPE['data_block_size'], nr_data_blocks))
        data_next = 0
        for dev in range(1, SHAPE['thins'] + 1):
            snap_time = 1 if dev == SHAPE['snapshot_of'] else 0
            out.write('  <device dev_id="%d" mapped_blocks="%d" transaction="%d" creation_time="0" '
                      'snap_time="%d">\n' % (dev, own[dev - 1], dev - 1, snap_time))
            cow = random.Random(SHAPE['seed'] * 1000 + dev) if snap_time else None
            if snap_time:
                first_data = data_next
            lines = []
            for origin, length in _extents(SHAPE['seed'] + dev, own[dev - 1]):
                if length > 1:
                    lines.append('    <range_mapping origin_begin="%d" data_begin="%d" length="%d" time="0"/>\n'
                                 % (origin, data_next, length))
                    counts['range_mapping'] += 1
                elif cow is not None and cow.random() < SHAPE['cow_share']:
                    lines.append('    <single_mapping origin_block="%d" data_block="%d" time="1"/>\n'
                                 % (origin, cow_next))
                    cow_next += 1
                    counts['cow_blocks'] += 1
                    counts['single_mapping'] += 1
                else:
                    lines.append('    <single_mapping origin_block="%d" data_block="%d" time="0"/>\n'
                                 % (origin, data_next))
                    counts['single_mapping'] += 1
                data_next += length
                if len(lines) >= 8192:
                    out.write(''.join(lines))
                    lines = []
            out.write(''.join(lines))
            out.write('  </device>\n')
        # The snapshot: the origin's extents as they were before the overwrites, same pool blocks.
        out.write('  <device dev_id="%d" mapped_blocks="%d" transaction="%d" creation_time="1" snap_time="1">\n'
                  % (snap_id, first, shares - 1))
        data_next = first_data
        lines = []
        for origin, length in _extents(SHAPE['seed'] + SHAPE['snapshot_of'], first):
            if length > 1:
                lines.append('    <range_mapping origin_begin="%d" data_begin="%d" length="%d" time="0"/>\n'
                             % (origin, data_next, length))
                counts['range_mapping'] += 1
            else:
                lines.append('    <single_mapping origin_block="%d" data_block="%d" time="0"/>\n'
                             % (origin, data_next))
                counts['single_mapping'] += 1
            data_next += length
            if len(lines) >= 8192:
                out.write(''.join(lines))
                lines = []
        out.write(''.join(lines))
        out.write('  </device>\n</superblock>\n')
    counts['shared_blocks'] = first - counts['cow_blocks']
    if cow_next > nr_data_blocks:
        raise RuntimeError('generator bug: %d pool blocks used, %d in the pool' % (cow_next, nr_data_blocks))
    return counts


def tool_path(name):
    for d in os.environ.get('PATH', '').split(os.pathsep) + ['/usr/sbin', '/sbin']:
        candidate = os.path.join(d, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit('%s is not installed on this host: install thin-provisioning-tools' % name)


def check_output(argv, env=None):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          universal_newlines=True, check=True).stdout


def metadata_bytes(nr_data_blocks):
    """What thin_metadata_size says the pool needs (both generations print a number with -n)."""
    out = check_output([tool_path('thin_metadata_size'), '--block-size', '%ds' % SHAPE['data_block_size'],
                        '--pool-size', '%ds' % (nr_data_blocks * SHAPE['data_block_size']),
                        '--max-thins', str(SHAPE['thins'] + 1), '--unit', 'b', '--numeric-only'])
    return int(float(out.split()[0]))


def create_sparse(path, size):
    with open(path, 'wb') as handle:
        handle.truncate(size)


def ensure_metadata(cache, mappings):
    """The cached XML dump and binary metadata for ``mappings`` (made once, then reused)."""
    key = os.path.join(cache, 'thin-m%d-shape%d' % (mappings, SHAPE['version']))
    stamp = os.path.join(key, 'shape.json')
    if os.path.exists(stamp):
        with open(stamp) as handle:
            shape = json.load(handle)
        shape['reused'] = True
        return key, shape
    shutil.rmtree(key, ignore_errors=True)
    os.makedirs(key)
    xml, meta = os.path.join(key, 'dump.xml'), os.path.join(key, 'meta.bin')
    log('generating %d mappings into %s' % (mappings, xml))
    started = time.time()
    shape = generate_xml(xml, mappings)
    shape['generate_s'] = round(time.time() - started, 1)
    shape['metadata_bytes'] = metadata_bytes(shape['nr_data_blocks'])
    create_sparse(meta, shape['metadata_bytes'])
    log('thin_restore into %s (%d bytes, from thin_metadata_size)' % (meta, shape['metadata_bytes']))
    started = time.time()
    check_output([tool_path('thin_restore'), '-i', xml, '-o', meta])
    shape['restore_s'] = round(time.time() - started, 1)
    check_output([tool_path('thin_check'), meta])
    shape.update(xml_bytes=os.path.getsize(xml), metadata_allocated_bytes=os.stat(meta).st_blocks * 512,
                 shape=SHAPE)
    with open(stamp + '.tmp', 'w') as handle:
        json.dump(shape, handle, indent=1, sort_keys=True)
    os.rename(stamp + '.tmp', stamp)
    shape['reused'] = False
    return key, shape


def module_command(name, args, work, python, env):
    """The module as a whole process under rss_probe.py, with its JSON arguments file."""
    args = dict(args, _ansible_remote_tmp=os.path.join(work, 'remote_tmp'))
    args_file = os.path.join(work, '%s.args.json' % name)
    with open(args_file, 'w') as handle:
        json.dump(dict(ANSIBLE_MODULE_ARGS=args), handle)
    hwm = os.path.join(work, '%s.hwm' % name)
    return _measure.Command('module', [python, os.path.join(HERE, 'rss_probe.py'), hwm, MODULE_PREFIX + name,
                                       args_file], env=env, rss_file=hwm)


def remover(*paths):
    def prepare():
        for path in paths:
            if os.path.exists(path):
                os.unlink(path)
    return prepare


def cases(op, key, shape, work, python, env):
    meta, xml = os.path.join(key, 'meta.bin'), os.path.join(key, 'dump.xml')
    if op == 'check':
        tool = _measure.Command('tool', [tool_path('thin_check'), meta], env=env)
        module = module_command('dmpd_check', dict(path=meta), work, python, env)
    elif op == 'dump':
        out_tool, out_mod = os.path.join(work, 'tool.xml'), os.path.join(work, 'module.xml')
        tool = _measure.Command('tool', [tool_path('thin_dump'), '-o', out_tool, meta], env=env,
                                prepare=remover(out_tool))
        module = module_command('dmpd_dump', dict(path=meta, dest=out_mod), work, python, env)
        module.prepare = remover(out_mod)
    elif op == 'restore':
        out_tool, out_mod = os.path.join(work, 'tool.bin'), os.path.join(work, 'module.bin')

        def fresh_output():
            remover(out_tool)()
            create_sparse(out_tool, shape['metadata_bytes'])
        tool = _measure.Command('tool', [tool_path('thin_restore'), '-i', xml, '-o', out_tool], env=env,
                                prepare=fresh_output)
        module = module_command('dmpd_restore', dict(src=xml, dest=out_mod), work, python, env)
        module.prepare = remover(out_mod)
    else:
        raise SystemExit('unknown operation %r; expected check, dump or restore' % op)
    basic = _measure.Command('import', [python, '-c', IMPORT_BASIC], env=env)
    return [tool, module, basic]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--bundle', required=True, help='directory with ansible/module_utils and ansible_collections')
    parser.add_argument('--cache', required=True, help='where generated metadata is kept, keyed by size')
    parser.add_argument('--mappings', type=int, action='append', help='mappings per size (repeat)')
    parser.add_argument('--ops', default='check,dump,restore')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--python', default='/usr/bin/python3', help='the interpreter that runs the modules')
    parser.add_argument('--out', default='-')
    opts = parser.parse_args()
    if opts.rounds < 5:
        parser.error('--rounds %d: every figure is the median of at least 5 runs' % opts.rounds)
    sizes = opts.mappings or [1000000, 10000000]
    os.makedirs(opts.cache, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.path.abspath(opts.bundle), LC_ALL='C')
    env.pop('PYTHONDONTWRITEBYTECODE', None)
    version = check_output([tool_path('thin_check'), '-V']).strip()
    ansible_core = check_output([opts.python, '-c', 'import ansible; print(ansible.__version__)'], env=env).strip()
    run = dict(facts=_measure.facts(opts.python), tools_version=version, ansible_core=ansible_core,
               rounds=opts.rounds, warmup=opts.warmup, order=['tool', 'module', 'import'], sizes=[])
    for mappings in sizes:
        key, shape = ensure_metadata(opts.cache, mappings)
        size = dict(mappings=mappings, shape=shape, cases=[])
        work = os.path.join(opts.cache, 'work')
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(os.path.join(work, 'remote_tmp'))
        for op in opts.ops.split(','):
            commands = cases(op, key, shape, work, opts.python, env)
            log('%s, %d mappings: %d+%d rounds of %s' % (op, mappings, opts.warmup, opts.rounds,
                                                         ' / '.join(c.name for c in commands)))
            load_before = os.getloadavg()
            rounds = _measure.alternate(commands, opts.rounds, warmup=opts.warmup, cwd=work, log=log)
            size['cases'].append(dict(op=op, commands=dict((c.name, c.argv) for c in commands), rounds=rounds,
                                      loadavg=[load_before, os.getloadavg()]))
            for leftover in os.listdir(work):
                path = os.path.join(work, leftover)
                if os.path.isfile(path) and leftover.endswith(('.xml', '.bin')):
                    os.unlink(path)
        shutil.rmtree(work, ignore_errors=True)
        run['sizes'].append(size)
    _measure.emit(run, opts.out)


if __name__ == '__main__':
    main()
