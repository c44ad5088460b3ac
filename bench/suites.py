# -*- coding: utf-8 -*-
"""The suites `make bench` knows, in page order.

A suite with ``module`` set is written: ``bench/<module>.py`` has ``add_arguments(parser)``,
``run(opts)`` -> an iterable of (label, run), one per label it measured, each
recorded as it comes, ``evaluate(run) -> goal rows`` and
``render(results, figdir, figrel) -> markdown``. A suite with ``module=None`` is pending:
`make bench` says so and the page lists it as not measured yet. ``needs_lab`` suites run on
the lab guests; selecting one that is written makes `make bench` bring the lab up first
(see ``lab_needed`` in run.py and mk/bench.mk). A module's own ``needs_lab(opts)``, when it has
one, decides instead for the options given (dmpd: this machine, and lab guests unless told not).
"""

import collections

Suite = collections.namedtuple('Suite', 'name title module needs_lab measures goals')

SUITES = (
    Suite('discovery', 'Discovery scaling', 'discovery', True,
          'N in {10, 100, 500, 1000} linear devices on a guest: the bare dmsetup commands discovery '
          'needs (the floor), `_dm.discovery` in process and `dm_info` as a whole module run, the seed '
          'library (sts-libs 1.23.0: `DmDevice.get_all()`, `.table`, `get_status()`) and the seed\'s '
          'per-device shell pattern; time against N, log-log.',
          ('in process <= 1.2x the floor at every N',
           'whole dm_info run <= 2x the floor + one bare `python3 -c pass`',
           '>= 100x faster than sts-libs at N=500')),
    Suite('stack', 'Stack converge and re-run', 'stack', True,
          'The thin stack of the lab inventory, a bigger one (1 pool, 20 thins, 5 snapshots), the cache '
          'and era stacks: the roles as shipped (first converge, re-run, --check re-run; module runs '
          'per host), the same stack as one plain script over one SSH session, and built with the seed '
          'library\'s API in one Python process.',
          ('first converge <= 3x the floor',
           're-run: zero changes in <= 3 module runs per stack',
           'module runs per host the same for 2 and for 20 thin volumes')),
    Suite('dmpd', 'dmpd wrapper overhead', 'dmpd', False,
          'Thin metadata with 1,000,000 and 10,000,000 mappings; `dmpd_check`, `dmpd_dump` and '
          '`dmpd_restore` as whole module processes against the bare tools and a bare '
          '`python3 -c \'import ansible.module_utils.basic\'`, alternately. Runs on this machine '
          '(the tools work on plain files), then on the Debian 13 guest over SSH (tools 1.x; `--dmpd-lab-hosts`); '
          '`--host` runs the same agent on one other host instead.',
          ('module run <= (bare tool + bare import of basic) x 1.05 at both sizes',
           'module process peak RSS < 64 MiB whatever the metadata size')),
    Suite('fleet', 'Fleet', 'fleet', True,
          '`site.yml` on one host and on two hosts at once: the ratio, and the 10 costliest tasks '
          '(profile_tasks).',
          ()),
)

BY_NAME = collections.OrderedDict((s.name, s) for s in SUITES)
