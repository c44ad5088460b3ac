"""Unit tests of the dmpd modules' runners (_dmpd.ops): what dmpd_check, dmpd_dump, dmpd_restore,
dmpd_repair, dmpd_info and dmpd_trim do to a user's metadata. Each test runs a module's main() as
Ansible would, on fakes of the tools that keep metadata in real files under tmp_path and print what
the real tools printed (fixtures/dmpd). The real tools run in tests/integration."""

import hashlib
import importlib
import os
import shutil
import struct
import subprocess
import sys

import pytest

from argv_check import assert_argv
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd import metadata as md
from ansible_collections.sts.devicemapper.plugins.module_utils import _module_base

GENERATIONS = ('0.9.0', '1.1.0')
DATA = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'data', 'dmpd'))
MAGIC = dict((family, magic) for magic, family in md.MAGICS.items())
# Content of fake metadata that the fake checker fails and a plain dump cannot read.
DAMAGED = b'DAMAGED '
MIB = 1024 * 1024


# -- fake metadata and tools --------------------------------------------------------------
def metadata(family, content, flags=0):
    """Binary metadata as the fake tools write it: a superblock block with the family's magic,
    its flags and the length of what it holds, then what it holds (the XML it was restored from)."""
    head = bytearray(md.SUPERBLOCK_SIZE)
    struct.pack_into('<I', head, 4, flags)
    struct.pack_into('<Q', head, 32, MAGIC[family])
    struct.pack_into('<I', head, 48, len(content))
    return bytes(head) + content


def put(path, data, size=4 * MIB):
    """Write ``data`` at the start of ``path``, a file (made) at least ``size`` bytes long."""
    with open(str(path), 'ab') as handle:
        handle.truncate(max(handle.tell(), size, len(data)))
    with open(str(path), 'r+b') as handle:
        handle.write(data)
    return str(path)


def content_of(path):
    """(family, content) of fake binary metadata; family None without a known magic."""
    with open(str(path), 'rb') as handle:
        raw = handle.read()
    family = md.Superblock(raw[:md.SUPERBLOCK_SIZE]).family
    length = struct.unpack_from('<I', raw, 48)[0] if family else 0
    return family, raw[md.SUPERBLOCK_SIZE:md.SUPERBLOCK_SIZE + length]


def read(path):
    with open(str(path), 'rb') as handle:
        return handle.read()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def xml_dump(tmp_path, family='thin', transaction=None, name=None):
    """A copy of tests/data/dmpd/<family>-small.xml; ``transaction`` makes it a different thin dump."""
    text = read(os.path.join(DATA, '%s-small.xml' % family))
    if transaction is not None:
        text = text.replace(b'transaction="7"', b'transaction="%d"' % transaction, 1)
    path = tmp_path / (name or '%s.xml' % family)
    path.write_bytes(text)
    return str(path)


def _opt(args, *flags):
    for i, arg in enumerate(args[:-1]):
        if arg in flags:
            return args[i + 1]
    return None


class FakeTools(object):
    """The dmpd tools of one generation, faked on real files: a restore writes binary metadata
    holding the XML it read (and the overrides it was given), a dump writes that XML back, a
    check passes unless the content is DAMAGED, and what the real tools printed comes from the
    captures. ``answers``: tool name -> (rc, stdout, stderr) instead of running the fake;
    ``unreadable``: paths no dump reads, not even a repairing one.
    ``log``: ('run', argv) and ('move', src, dest) in the order they happened."""

    def __init__(self, version, captured, answers=None):
        self.version = version
        self.captured = captured
        self.answers = answers or {}
        self.unreadable = set()
        self.log = []
        self.error_rc = 1 if version.startswith('0.') else 64

    def runs(self, tool=None):
        return [e[1] for e in self.log if e[0] == 'run' and (tool is None or os.path.basename(e[1][0]) == tool)]

    def moves(self):
        return [e[1:] for e in self.log if e[0] == 'move']

    def writes(self, path):
        """Indexes in ``log`` of what wrote ``path``: a tool's output, a check that writes, a move, a copy."""
        path = str(path)
        out = []
        for i, event in enumerate(self.log):
            if event[0] == 'move':
                hit = event[2] == path
            else:
                args = event[1][1:]
                hit = _opt(args, '--output', '-o') == path or (
                    os.path.basename(event[1][0]) == 'cp' and args[-1] == path) or (
                    args[-1:] == [path] and ('--clear-needs-check-flag' in args or '--auto-repair' in args))
            if hit:
                out.append(i)
        return out

    def index(self, kind, match):
        return [i for i, e in enumerate(self.log) if e[0] == kind and match(e)]

    def failure(self, stderr):
        return self.error_rc, '', stderr

    def __call__(self, argv):
        name = os.path.basename(argv[0])
        args = list(argv[1:])
        if name == 'thin_check' and args == ['-V']:
            return 0, self.captured(self.version, 'thin_version')['stdout'], ''
        self.log.append(('run', list(argv)))
        if name in self.answers:
            return self.answers[name]
        if name == 'cp':
            shutil.copyfile(args[-2], args[-1])
            return 0, '', ''
        family, verb = name.split('_', 1)
        return getattr(self, '_' + verb)(family, args)

    def _restore(self, family, args):
        src, out = _opt(args, '--input'), _opt(args, '--output')
        if not os.path.exists(out):
            return self.failure('%s: No such file or directory\n' % out)
        extra = [a for a in args if a not in ('--input', src, '--output', out)]
        content = read(src) + (('<!-- %s -->' % ' '.join(extra)).encode() if extra else b'')
        put(out, metadata(family, content), size=0)
        return 0, '', ''

    def _repair(self, family, args):
        src, out = _opt(args, '--input'), _opt(args, '--output')
        found, content = content_of(src)
        if found != family:
            return self.failure('bad checksum in superblock\n')
        put(out, metadata(family, content.replace(DAMAGED, b'', 1)), size=0)
        return 0, '', ''

    def _dump(self, family, args):
        found, content = content_of(args[-1])
        if found != family or args[-1] in self.unreadable:
            return self.failure('bad checksum in superblock\n')
        if content.startswith(DAMAGED):
            if '--repair' not in args:
                return self.failure('bad checksum in btree node (block 6)\n')
            content = content[len(DAMAGED):]
        out = _opt(args, '-o')
        if out is None:
            return 0, content.decode(), ''
        with open(out, 'wb') as handle:
            handle.write(content)
        return 0, '', ''

    def _check(self, family, args):
        path = args[-1]
        found, content = content_of(path)
        if found == family and content.startswith(DAMAGED) and '--auto-repair' in args:
            put(path, metadata(family, content[len(DAMAGED):]), size=0)
        elif found != family or content.startswith(DAMAGED):
            bad = self.captured(self.version, 'thin_check_corrupted_tmeta')
            return bad['rc'], bad['stdout'], bad['stderr']
        if '--clear-needs-check-flag' in args:
            with open(path, 'r+b') as handle:
                handle.seek(4)
                handle.write(struct.pack('<I', 0))
        ok = self.captured(self.version, '%s_check_ok' % family)
        return ok['rc'], ok['stdout'], ok['stderr']

    def _ls(self, family, args):
        cap = self.captured(self.version, 'thin_ls_fields')
        return cap['rc'], cap['stdout'], cap['stderr']

    def _delta(self, family, args):
        cap = self.captured(self.version, 'thin_delta')
        return cap['rc'], cap['stdout'], cap['stderr']

    def _metadata_size(self, family, args):
        name = 'thin_metadata_size_n' if family == 'thin' else 'cache_metadata_size_%s' % (
            'device' if '--device-size' in args else 'nr_blocks')
        cap = self.captured(self.version, name)
        return cap['rc'], cap['stdout'], cap['stderr']

    def _trim(self, family, args):
        return 0, '', ''


class Exited(Exception):
    def __init__(self, failed, result):
        super(Exited, self).__init__(result.get('msg'))
        self.failed = failed
        self.result = result


class Failed(Exception):
    """What a module failed with: ``msg`` and the whole ``result``."""

    def __init__(self, result):
        super(Failed, self).__init__(result['msg'])
        self.msg = result['msg']
        self.result = result


class FakeModule(object):
    """AnsibleModule as the runners use it; run_command goes to the fake tools."""

    def __init__(self, name, params, tools, tmpdir, check_mode, diff):
        self._name = 'sts.devicemapper.' + name
        self.params = params
        self.tools = tools
        self.tmpdir = tmpdir
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return None if name == 'setpriv' else '/usr/sbin/' + name  # no child guard (test_dmpd_tools tries it)

    def run_command(self, cmd, data=None, binary_data=False):
        return self.tools(assert_argv(cmd))

    def atomic_move(self, src, dest, unsafe_writes=False):
        self.tools.log.append(('move', src, dest))
        os.rename(src, dest)

    def exit_json(self, **result):
        raise Exited(False, dict(result, warnings=self.warnings) if self.warnings else result)

    def fail_json(self, **result):
        raise Exited(True, dict(result, warnings=self.warnings) if self.warnings else result)


@pytest.fixture
def run_module(monkeypatch, tmp_path):
    """run_module('dmpd_restore', tools, check_mode=False, diff=False, **params): run the module's
    main() with its own argument spec's defaults; returns the result it exits with, raises Failed.
    The scratch directory of the run must be gone afterwards, whatever happened."""
    tmpdir = tmp_path / 'ansible-tmp'
    tmpdir.mkdir()

    def run(name, tools, check_mode=False, diff=False, **params):
        def build(argument_spec, **kwargs):
            assert kwargs.get('supports_check_mode') is True
            assert set(params) <= set(argument_spec), 'not options of %s: %s' % (name, set(params) - set(argument_spec))
            full = dict((key, spec.get('default')) for key, spec in argument_spec.items())
            for key, value in params.items():
                sub = argument_spec[key].get('options')
                if sub and value is not None:
                    value = dict(dict((k, s.get('default')) for k, s in sub.items()), **value)
                full[key] = value
            return FakeModule(name, full, tools, str(tmpdir), check_mode, diff)

        monkeypatch.setattr(_module_base, 'AnsibleModule', build)
        module = importlib.import_module('ansible_collections.sts.devicemapper.plugins.modules.' + name)
        with pytest.raises(Exited) as done:
            module.main()
        assert os.listdir(str(tmpdir)) == []
        if done.value.failed:
            raise Failed(done.value.result)
        assert done.value.result['failed'] is False
        return done.value.result
    return run


@pytest.fixture(params=GENERATIONS)
def tools(request, captured):
    return FakeTools(request.param, captured)


@pytest.fixture
def hold(tmp_path, monkeypatch):
    """hold(path): make the file ``path`` look like the backing file of a loop device that the
    active dm device ``pool`` holds."""
    sys_block = tmp_path / 'sys' / 'block'
    monkeypatch.setattr(md, 'SYS_BLOCK', str(sys_block))

    def make(path):
        (sys_block / 'loop3' / 'loop').mkdir(parents=True)
        (sys_block / 'loop3' / 'holders' / 'dm-2').mkdir(parents=True)
        (sys_block / 'dm-2' / 'dm').mkdir(parents=True)
        (sys_block / 'dm-2' / 'dm' / 'name').write_text('pool\n')
        (sys_block / 'loop3' / 'loop' / 'backing_file').write_text(str(path) + '\n')
    return make


@pytest.fixture
def block_devices(tmp_path, monkeypatch):
    """A set of paths (regular files) the runners see as block devices, none of them held."""
    paths = set()
    path_kind = md.path_kind
    monkeypatch.setattr(md, 'path_kind', lambda path, role='path': 'block' if str(path) in paths else path_kind(path, role))
    monkeypatch.setattr(md, 'SYS_DEV_BLOCK', str(tmp_path / 'sys' / 'dev' / 'block'))
    return paths


@pytest.fixture
def meta_dir(tmp_path):
    """The directory of dest: it must hold nothing but dest after any run."""
    path = tmp_path / 'meta'
    path.mkdir()
    return path


def other_thin(tmp_path, meta_dir):
    """dest holding thin metadata restored from another dump; returns (dest, that dump's text)."""
    other = read(xml_dump(tmp_path, transaction=9, name='other.xml'))
    return put(meta_dir / 'pool.meta', metadata('thin', other)), other


# -- dmpd_restore -------------------------------------------------------------------------
def test_restore_into_a_missing_file_creates_it_for_its_owner_only_and_checks_what_it_wrote(run_module, tools, tmp_path, meta_dir):
    src = xml_dump(tmp_path)
    dest = str(meta_dir / 'pool.meta')
    result = run_module('dmpd_restore', tools, src=src, dest=dest)
    assert (result['changed'], result['family'], result['backup_file'], result['src'], result['dest']) == \
        (True, 'thin', None, src, dest)
    assert result['tool_version'] == tools.version
    assert content_of(dest) == ('thin', read(src))
    assert os.stat(dest).st_mode & 0o777 == 0o600
    assert result['cmd'][:3] == ['/usr/sbin/thin_restore', '--input', src]
    # the candidate is checked beside dest, before the rename puts it in place
    check, = tools.runs('thin_check')
    assert check[0] == '/usr/sbin/thin_check' and os.path.basename(check[-1]).startswith('.pool.meta.sts-dm-')
    assert os.listdir(str(meta_dir)) == ['pool.meta']


def test_restoring_into_a_missing_dest_dumps_the_candidate_only_for_the_diff(run_module, tools, tmp_path, meta_dir):
    src = xml_dump(tmp_path)
    result = run_module('dmpd_restore', tools, src=src, dest=str(meta_dir / 'a.meta'))
    assert tools.runs('thin_dump') == [] and 'diff' not in result
    result = run_module('dmpd_restore', tools, diff=True, src=src, dest=str(meta_dir / 'b.meta'))
    dump, = tools.runs('thin_dump')
    assert os.path.basename(dump[-1]).startswith('.b.meta.sts-dm-')
    assert result['diff'] == dict(before=dict(exists=False, holds=None, dump_sha256=None),
                                  after=dict(exists=True, holds='thin metadata', dump_sha256=sha256(read(src))))


@pytest.mark.parametrize('check_mode', [False, True])
def test_restoring_the_same_dump_again_changes_nothing(run_module, tools, tmp_path, meta_dir, check_mode):
    src = xml_dump(tmp_path)
    dest = str(meta_dir / 'pool.meta')
    run_module('dmpd_restore', tools, src=src, dest=dest)
    before, inode = read(dest), os.stat(dest).st_ino
    del tools.log[:]
    result = run_module('dmpd_restore', tools, check_mode=check_mode, src=src, dest=dest, force=True)
    assert (result['changed'], result['backup_file']) == (False, None)
    assert result['msg'] == '%s already holds this metadata' % dest
    assert tools.moves() == [] and tools.writes(dest) == []
    assert (read(dest), os.stat(dest).st_ino) == (before, inode)
    assert os.listdir(str(meta_dir)) == ['pool.meta']


@pytest.mark.parametrize('check_mode', [False, True])
@pytest.mark.parametrize('holds,expected', [
    ('other metadata', 'holds thin metadata that differs'),
    ('other data', 'holds no thin, cache or era superblock magic (found 0x101010101010101) that differs'),
    ('damaged metadata', 'holds damaged thin metadata that differs'),
])
def test_a_dest_holding_something_else_is_refused_without_force_and_left_as_it_was(
        run_module, tools, tmp_path, meta_dir, holds, expected, check_mode):
    src = xml_dump(tmp_path)
    other = read(xml_dump(tmp_path, transaction=9, name='other.xml'))
    content = {'other metadata': metadata('thin', other), 'other data': b'\x01' * 8192,
               'damaged metadata': metadata('thin', DAMAGED + other)}[holds]
    dest = put(meta_dir / 'pool.meta', content)
    before = read(dest)
    with pytest.raises(Failed) as err:
        run_module('dmpd_restore', tools, check_mode=check_mode, src=src, dest=dest)
    assert err.value.msg == ('dest %s %s from what dmpd_restore would write; refused so nothing is lost: set '
                             'force=true to replace it (a backup is written first unless backup=false)' % (dest, expected))
    assert read(dest) == before
    assert tools.moves() == [] and tools.writes(dest) == []
    assert os.listdir(str(meta_dir)) == ['pool.meta']


@pytest.mark.parametrize('kind', ['file', 'block'])
def test_force_backs_up_what_dest_held_as_a_dump_before_dest_is_written(run_module, tools, tmp_path, meta_dir, block_devices, kind):
    src = xml_dump(tmp_path)
    dest, other = other_thin(tmp_path, meta_dir)
    if kind == 'block':
        block_devices.add(dest)
    result = run_module('dmpd_restore', tools, src=src, dest=dest, force=True)
    backup = result['backup_file']
    assert result['changed'] is True
    assert os.path.dirname(backup) == str(meta_dir) and os.path.basename(backup).startswith('pool.meta.')
    assert backup.endswith('.xml') and read(backup) == other
    assert os.stat(backup).st_mode & 0o777 == 0o600
    assert content_of(dest) == ('thin', read(src))
    backed_up, = tools.index('move', lambda e: e[2] == backup)
    assert tools.writes(dest) and min(tools.writes(dest)) > backed_up
    assert sorted(os.listdir(str(meta_dir))) == sorted(['pool.meta', os.path.basename(backup)])


def test_a_block_device_dest_is_built_in_scratch_space_and_written_once_by_the_tool(run_module, tools, tmp_path, meta_dir, block_devices):
    src = xml_dump(tmp_path)
    dest, _other = other_thin(tmp_path, meta_dir)
    block_devices.add(dest)
    run_module('dmpd_restore', tools, src=src, dest=dest, force=True, backup=False)
    first, last = tools.runs('thin_restore')
    assert os.path.dirname(_opt(first, '--output')).startswith(str(tmp_path / 'ansible-tmp'))
    assert _opt(last, '--output') == dest and tools.moves() == []
    assert tools.runs('thin_check')[-1] == ['/usr/sbin/thin_check', dest]


def test_force_puts_the_backup_in_backup_dir(run_module, tools, tmp_path, meta_dir):
    backups = tmp_path / 'backups'
    backups.mkdir()
    dest, other = other_thin(tmp_path, meta_dir)
    result = run_module('dmpd_restore', tools, src=xml_dump(tmp_path), dest=dest, force=True, backup_dir=str(backups))
    assert os.listdir(str(backups)) == [os.path.basename(result['backup_file'])]
    assert os.path.dirname(result['backup_file']) == str(backups) and read(result['backup_file']) == other


def test_force_with_backup_false_replaces_dest_and_keeps_nothing(run_module, tools, tmp_path, meta_dir):
    src = xml_dump(tmp_path)
    dest, _other = other_thin(tmp_path, meta_dir)
    result = run_module('dmpd_restore', tools, src=src, dest=dest, force=True, backup=False)
    assert (result['changed'], result['backup_file']) == (True, None)
    assert content_of(dest) == ('thin', read(src))
    assert os.listdir(str(meta_dir)) == ['pool.meta']


def test_a_missing_backup_dir_is_refused_before_dest_is_touched(run_module, tools, tmp_path, meta_dir):
    dest, _other = other_thin(tmp_path, meta_dir)
    before = read(dest)
    missing = str(tmp_path / 'no-such-dir')
    with pytest.raises(Failed) as err:
        run_module('dmpd_restore', tools, src=xml_dump(tmp_path), dest=dest, force=True, backup_dir=missing)
    assert err.value.msg == 'backup_dir %s does not exist; create it or choose another' % missing
    assert read(dest) == before and tools.writes(dest) == [] and os.listdir(str(meta_dir)) == ['pool.meta']


def test_force_keeps_a_raw_sparse_copy_of_data_that_is_not_metadata(run_module, tools, tmp_path, meta_dir):
    dest = put(meta_dir / 'pool.meta', b'\x01' * 8192)
    before = read(dest)
    result = run_module('dmpd_restore', tools, src=xml_dump(tmp_path), dest=dest, force=True)
    backup = result['backup_file']
    assert backup.endswith('.bin') and read(backup) == before
    assert os.stat(backup).st_mode & 0o777 == 0o600
    copied, = tools.index('run', lambda e: e[1] == ['cp', '--sparse=always', dest, backup])
    assert min(tools.writes(dest)) > copied


def test_a_failed_backup_copy_fails_naming_it_and_leaves_dest_as_it_was(run_module, tools, tmp_path, meta_dir):
    dest = put(meta_dir / 'pool.meta', b'\x01' * 8192)
    before = read(dest)
    tools.answers['cp'] = (1, '', 'cp: error writing: No space left on device\n')
    with pytest.raises(Failed) as err:
        run_module('dmpd_restore', tools, src=xml_dump(tmp_path), dest=dest, force=True)
    assert err.value.msg.startswith('cannot back up %s to %s/pool.meta.' % (dest, meta_dir))
    assert err.value.msg.endswith('.bin: cp: error writing: No space left on device')
    assert err.value.result['cmd'][:2] == ['cp', '--sparse=always'] and err.value.result['rc'] == 1
    assert read(dest) == before and os.listdir(str(meta_dir)) == ['pool.meta']


def test_force_salvages_damaged_metadata_into_the_backup_with_a_repairing_dump(run_module, tools, tmp_path, meta_dir):
    other = read(xml_dump(tmp_path, transaction=9, name='other.xml'))
    dest = put(meta_dir / 'pool.meta', metadata('thin', DAMAGED + other))
    result = run_module('dmpd_restore', tools, src=xml_dump(tmp_path), dest=dest, force=True)
    assert result['backup_file'].endswith('.xml') and read(result['backup_file']) == other
    salvage, = [argv for argv in tools.runs('thin_dump') if '--repair' in argv]
    assert salvage[-1] == dest


def test_force_keeps_a_raw_copy_of_damaged_metadata_that_not_even_a_repairing_dump_reads(run_module, tools, tmp_path, meta_dir):
    dest = put(meta_dir / 'pool.meta', metadata('thin', DAMAGED + b'<superblock/>'))
    before = read(dest)
    tools.unreadable.add(dest)
    result = run_module('dmpd_restore', tools, src=xml_dump(tmp_path), dest=dest, force=True)
    assert result['backup_file'].endswith('.bin') and read(result['backup_file']) == before
    assert [argv[-1] for argv in tools.runs('thin_dump') if '--repair' in argv] == [dest]


@pytest.mark.parametrize('kind', ['file', 'block'])
def test_check_mode_says_what_would_change_and_writes_nothing(run_module, tools, tmp_path, meta_dir, block_devices, kind):
    src = xml_dump(tmp_path)
    dest, other = other_thin(tmp_path, meta_dir)
    if kind == 'block':
        block_devices.add(dest)
    before = read(dest)
    result = run_module('dmpd_restore', tools, check_mode=True, diff=True, src=src, dest=dest, force=True)
    assert result['changed'] is True
    assert os.path.dirname(result['backup_file']) == str(meta_dir) and result['backup_file'].endswith('.xml')
    assert result['diff'] == dict(before=dict(exists=True, holds='thin metadata', dump_sha256=sha256(other)),
                                  after=dict(exists=True, holds='thin metadata', dump_sha256=sha256(read(src))))
    assert read(dest) == before and tools.writes(dest) == [] and tools.moves() == []
    assert tools.runs('thin_check') == []
    assert os.listdir(str(meta_dir)) == ['pool.meta']


def test_check_mode_names_the_kind_of_backup_the_run_writes_for_damaged_metadata(run_module, tools, tmp_path, meta_dir):
    src = xml_dump(tmp_path)
    dest = put(meta_dir / 'pool.meta', metadata('thin', DAMAGED + read(xml_dump(tmp_path, transaction=9, name='o.xml'))))
    predicted = run_module('dmpd_restore', tools, check_mode=True, src=src, dest=dest, force=True)['backup_file']
    written = run_module('dmpd_restore', tools, src=src, dest=dest, force=True)['backup_file']
    assert os.path.splitext(predicted)[1] == os.path.splitext(written)[1] == '.xml'


def test_check_mode_does_not_create_a_missing_dest(run_module, tools, tmp_path, meta_dir):
    result = run_module('dmpd_restore', tools, check_mode=True, src=xml_dump(tmp_path), dest=str(meta_dir / 'pool.meta'))
    assert result['changed'] is True and os.listdir(str(meta_dir)) == []


def test_an_empty_dest_file_is_written_without_force_and_keeps_its_mode(run_module, tools, tmp_path, meta_dir):
    src = xml_dump(tmp_path)
    dest = str(meta_dir / 'pool.meta')
    md.create_sparse(dest, 8 * MIB, 0o640)
    result = run_module('dmpd_restore', tools, src=src, dest=dest)
    assert (result['changed'], result['backup_file']) == (True, None)
    assert content_of(dest) == ('thin', read(src))
    assert os.stat(dest).st_mode & 0o777 == 0o640 and os.path.getsize(dest) == 8 * MIB


@pytest.mark.parametrize('family', ['cache', 'era'])
def test_cache_and_era_dumps_are_restored_with_their_own_tool(run_module, tools, tmp_path, meta_dir, family):
    src = xml_dump(tmp_path, family)
    dest = str(meta_dir / 'pool.meta')
    result = run_module('dmpd_restore', tools, src=src, dest=dest)
    assert result['family'] == family and result['cmd'][0] == '/usr/sbin/%s_restore' % family
    assert content_of(dest) == (family, read(src))
    check, = tools.runs('%s_check' % family)
    assert check[0] == '/usr/sbin/%s_check' % family and os.path.basename(check[-1]).startswith('.pool.meta.sts-dm-')


def test_a_failing_size_estimate_does_not_stop_the_restore(run_module, tools, tmp_path, meta_dir):
    src = xml_dump(tmp_path)
    dest = str(meta_dir / 'pool.meta')
    tools.answers['thin_metadata_size'] = tools.failure('bad block size\n')
    assert run_module('dmpd_restore', tools, src=src, dest=dest)['changed'] is True
    assert content_of(dest) == ('thin', read(src)) and os.path.getsize(dest) == md.MIN_METADATA_BYTES


def test_a_failing_restore_tool_fails_naming_the_command_and_what_it_said(run_module, tools, tmp_path, meta_dir):
    src = xml_dump(tmp_path)
    tools.answers['thin_restore'] = tools.failure('xml parse error\nline 3: mismatched tag\n')
    with pytest.raises(Failed) as err:
        run_module('dmpd_restore', tools, src=src, dest=str(meta_dir / 'pool.meta'))
    assert err.value.msg == 'thin_restore of src %s failed (rc=%d, error): xml parse error / line 3: mismatched tag' % (
        src, tools.error_rc)
    assert err.value.result['rc'] == tools.error_rc and err.value.result['cmd'][:3] == ['/usr/sbin/thin_restore', '--input', src]
    assert os.listdir(str(meta_dir)) == []


def test_metadata_that_fails_its_check_never_replaces_dest(run_module, tools, tmp_path, meta_dir):
    dest = str(meta_dir / 'pool.meta')
    tools.answers['thin_check'] = tools.failure('bad checksum in superblock\n')
    with pytest.raises(Failed) as err:
        run_module('dmpd_restore', tools, src=xml_dump(tmp_path), dest=dest)
    candidate = err.value.result['cmd'][-1]
    assert err.value.msg == ('the metadata built for %s in %s does not pass /usr/sbin/thin_check: bad checksum in '
                             'superblock' % (dest, candidate))
    assert os.path.basename(candidate).startswith('.pool.meta.sts-dm-')
    assert err.value.result['changed'] is False and os.listdir(str(meta_dir)) == []


def test_a_candidate_that_fails_its_check_leaves_the_old_metadata_in_place(run_module, tools, tmp_path, meta_dir):
    dest = str(meta_dir / 'pool.meta')
    run_module('dmpd_restore', tools, src=xml_dump(tmp_path), dest=dest)
    before = read(dest)
    tools.answers['thin_check'] = tools.failure('bad checksum in superblock\n')
    with pytest.raises(Failed, match='does not pass'):
        run_module('dmpd_restore', tools, src=xml_dump(tmp_path), dest=dest, force=True, transaction_id=9)
    assert read(dest) == before
    assert sorted(f for f in os.listdir(str(meta_dir)) if not f.startswith('pool.meta.')) == ['pool.meta']


def test_thin_overrides_reach_the_tool_and_make_different_metadata(run_module, tools, tmp_path, meta_dir):
    src = xml_dump(tmp_path)
    dest = str(meta_dir / 'pool.meta')
    result = run_module('dmpd_restore', tools, src=src, dest=dest, transaction_id=8, data_block_size='64KiB')
    cmd = result['cmd']
    assert cmd[cmd.index('--data-block-size') + 1] == '128' and cmd[cmd.index('--transaction-id') + 1] == '8'
    with pytest.raises(Failed, match='holds thin metadata that differs'):
        run_module('dmpd_restore', tools, src=src, dest=dest)


@pytest.mark.parametrize('family,params,message', [
    ('cache', dict(transaction_id=5, nr_data_blocks=10), 'nr_data_blocks, transaction_id apply to thin metadata only; '
                                                         '{src} is cache metadata'),
    ('thin', dict(metadata_version='2'), 'metadata_version and omit_clean_shutdown apply to cache metadata only; '
                                         'src {src} is thin metadata'),
    ('thin', dict(family='cache'), 'src {src} is a thin metadata dump, not cache'),
])
def test_options_that_do_not_fit_the_dump_are_refused_and_nothing_is_written(run_module, tools, tmp_path, meta_dir, family, params, message):
    src = xml_dump(tmp_path, family)
    with pytest.raises(Failed) as err:
        run_module('dmpd_restore', tools, src=src, dest=str(meta_dir / 'pool.meta'), **params)
    assert err.value.msg == message.format(src=src)
    assert os.listdir(str(meta_dir)) == [] and tools.runs('%s_restore' % family) == []


def test_cache_restore_options_reach_the_tool(run_module, tools, tmp_path, meta_dir):
    result = run_module('dmpd_restore', tools, src=xml_dump(tmp_path, 'cache'), dest=str(meta_dir / 'c.meta'),
                        metadata_version='2', omit_clean_shutdown=True)
    assert result['cmd'][:4] == ['/usr/sbin/cache_restore', '--input', result['src'], '--metadata-version']
    assert '--omit-clean-shutdown' in result['cmd']


@pytest.mark.parametrize('case', ['same as src', 'no directory', 'held'])
def test_a_dest_that_must_not_be_written_is_refused_before_any_tool_runs(run_module, tools, tmp_path, meta_dir, hold, case):
    src = xml_dump(tmp_path)
    if case == 'same as src':
        dest, expected = src, 'dest %s is the same as src; write the new metadata to another device or file' % src
    elif case == 'no directory':
        dest = str(tmp_path / 'nowhere' / 'pool.meta')
        expected = 'dest %s: its directory %s does not exist' % (dest, tmp_path / 'nowhere')
    else:
        dest, _other = other_thin(tmp_path, meta_dir)
        hold(dest)
        expected = ('dest %s is in use by active device-mapper device(s) pool; metadata that an active device uses '
                    'is never written; deactivate the device first' % dest)
    before = read(src)
    with pytest.raises(Failed) as err:
        run_module('dmpd_restore', tools, src=src, dest=dest, force=True)
    assert err.value.msg == expected
    assert tools.log == [] and read(src) == before


# -- dmpd_repair --------------------------------------------------------------------------
def test_repair_writes_a_repaired_copy_and_never_writes_src(run_module, tools, tmp_path, meta_dir):
    xml = read(xml_dump(tmp_path))
    src = put(tmp_path / 'damaged.meta', metadata('thin', DAMAGED + xml))
    before = read(src)
    dest = str(meta_dir / 'repaired.meta')
    result = run_module('dmpd_repair', tools, src=src, dest=dest)
    assert (result['changed'], result['family'], result['src']) == (True, 'thin', src)
    assert result['cmd'][:3] == ['/usr/sbin/thin_repair', '--input', src]
    assert content_of(dest) == ('thin', xml)
    assert read(src) == before and tools.writes(src) == []
    again = run_module('dmpd_repair', tools, src=src, dest=dest)
    assert again['changed'] is False and read(src) == before


def test_repair_into_other_metadata_is_refused_naming_dmpd_repair(run_module, tools, tmp_path, meta_dir):
    src = put(tmp_path / 'damaged.meta', metadata('thin', DAMAGED + read(xml_dump(tmp_path))))
    dest, _other = other_thin(tmp_path, meta_dir)
    with pytest.raises(Failed, match='holds thin metadata that differs from what dmpd_repair would write; refused'):
        run_module('dmpd_repair', tools, src=src, dest=dest)


def test_repair_of_metadata_in_use_is_refused(run_module, tools, tmp_path, meta_dir, hold):
    src = put(tmp_path / 'damaged.meta', metadata('thin', DAMAGED))
    hold(src)
    with pytest.raises(Failed) as err:
        run_module('dmpd_repair', tools, src=src, dest=str(meta_dir / 'r.meta'))
    assert err.value.msg.startswith('src %s is in use by active device-mapper device(s) pool; repairing live metadata '
                                    'needs a metadata snapshot' % src)
    assert tools.log == [] and os.listdir(str(meta_dir)) == []


@pytest.mark.parametrize('version', GENERATIONS)
def test_era_repair_needs_the_1x_tools(run_module, captured, tmp_path, meta_dir, version):
    tools = FakeTools(version, captured)
    src = put(tmp_path / 'era.meta', metadata('era', DAMAGED + read(xml_dump(tmp_path, 'era'))))
    dest = str(meta_dir / 'r.meta')
    if version == '0.9.0':
        with pytest.raises(Failed) as err:
            run_module('dmpd_repair', tools, src=src, dest=dest)
        assert err.value.msg == 'era_repair is not available in thin-provisioning-tools 0.9.0; it needs 1.x'
        assert tools.runs('era_repair') == [] and os.listdir(str(meta_dir)) == []
    else:
        assert run_module('dmpd_repair', tools, src=src, dest=dest)['cmd'][0] == '/usr/sbin/era_repair'


@pytest.mark.parametrize('content,message', [
    (None, 'src {src} holds XML (a metadata dump), not binary metadata; turn it into binary metadata with '
           'sts.devicemapper.dmpd_restore first'),
    (b'\0' * 8192, 'cannot tell the metadata family of {src}: a zeroed superblock block; give family (thin, cache '
                   'or era) to run the tools anyway'),
])
def test_repair_refuses_a_src_it_cannot_read_as_metadata(run_module, tools, tmp_path, meta_dir, content, message):
    src = xml_dump(tmp_path) if content is None else put(tmp_path / 'zero.meta', content)
    with pytest.raises(Failed) as err:
        run_module('dmpd_repair', tools, src=src, dest=str(meta_dir / 'r.meta'))
    assert err.value.msg == message.format(src=src)
    assert tools.runs('thin_repair') == []


def test_a_failing_repair_tool_fails_naming_it(run_module, tools, tmp_path, meta_dir):
    src = put(tmp_path / 'damaged.meta', metadata('thin', DAMAGED))
    tools.answers['thin_repair'] = tools.failure('no superblock found\n')
    with pytest.raises(Failed) as err:
        run_module('dmpd_repair', tools, src=src, dest=str(meta_dir / 'r.meta'))
    assert err.value.msg == 'thin_repair of src %s failed (rc=%d, error): no superblock found' % (src, tools.error_rc)
    assert os.listdir(str(meta_dir)) == []


def test_a_repair_tool_that_crashed_is_said_to_have_crashed(run_module, tools, tmp_path, meta_dir):
    src = put(tmp_path / 'damaged.meta', metadata('thin', DAMAGED))
    tools.answers['thin_repair'] = (-11, '', '')   # run_command's rc for a process ended by SIGSEGV
    with pytest.raises(Failed) as err:
        run_module('dmpd_repair', tools, src=src, dest=str(meta_dir / 'r.meta'))
    assert err.value.msg == ('thin_repair of src %s failed (rc=-11, killed by signal 11 (SIGSEGV): the tool crashed '
                             'or was killed): no output' % src)
    assert os.listdir(str(meta_dir)) == []


# -- dmpd_dump ----------------------------------------------------------------------------
def thin_file(tmp_path, flags=0, content=None):
    return put(tmp_path / 'thin.meta', metadata('thin', read(xml_dump(tmp_path)) if content is None else content, flags))


def test_dump_writes_dest_with_its_mode_and_reports_its_digest_then_changes_nothing(run_module, tools, tmp_path, meta_dir):
    path = thin_file(tmp_path)
    dest = str(meta_dir / 'pool.xml')
    result = run_module('dmpd_dump', tools, path=path, dest=dest)
    assert (result['changed'], result['family'], result['format']) == (True, 'thin', 'xml')
    assert read(dest) == content_of(path)[1]
    assert (result['sha256'], result['size']) == (sha256(read(dest)), os.path.getsize(dest))
    assert os.stat(dest).st_mode & 0o777 == 0o600
    assert result['cmd'][:2] == ['/usr/sbin/thin_dump', '-o'] and result['cmd'][-1] == path
    inode = os.stat(dest).st_ino
    del tools.log[:]
    again = run_module('dmpd_dump', tools, path=path, dest=dest)
    assert again['changed'] is False and again['sha256'] == result['sha256']
    assert tools.moves() == [] and os.stat(dest).st_ino == inode
    assert os.listdir(str(meta_dir)) == ['pool.xml']


def test_a_dump_that_differs_only_in_mode_gets_its_mode_and_is_not_rewritten(run_module, tools, tmp_path, meta_dir):
    path = thin_file(tmp_path)
    dest = str(meta_dir / 'pool.xml')
    run_module('dmpd_dump', tools, path=path, dest=dest)
    inode = os.stat(dest).st_ino
    result = run_module('dmpd_dump', tools, diff=True, path=path, dest=dest, mode='0640')
    assert result['changed'] is True and os.stat(dest).st_mode & 0o777 == 0o640
    assert os.stat(dest).st_ino == inode
    assert result['diff'] == dict(before=dict(path=dest, sha256=result['sha256'], mode='0600'),
                                  after=dict(path=dest, sha256=result['sha256'], mode='0640'))


def test_dump_in_check_mode_reports_the_new_digest_and_writes_nothing(run_module, tools, tmp_path, meta_dir):
    path = thin_file(tmp_path)
    dest = str(meta_dir / 'pool.xml')
    result = run_module('dmpd_dump', tools, check_mode=True, diff=True, path=path, dest=dest)
    assert result['changed'] is True
    assert result['diff'] == dict(before=dict(path=dest, sha256=None, mode=None),
                                  after=dict(path=dest, sha256=sha256(content_of(path)[1]), mode='0600'))
    assert os.listdir(str(meta_dir)) == []


@pytest.mark.parametrize('case,params,message', [
    ('directory', dict(), 'dest {meta_dir} is a directory; expected a metadata block device or file'),
    ('block', dict(), 'dest {meta_dir}/pool.xml is a block device; a dump is written to a regular file'),
    ('no directory', dict(), 'dest {tmp_path}/nowhere/pool.xml: its directory {tmp_path}/nowhere does not exist'),
    ('mode', dict(mode='rw-r--r--'), "mode 'rw-r--r--' is not an octal file mode such as 0600"),
    ('format', dict(format='human_readable'), 'format human_readable exists for thin metadata only; {path} holds '
                                              'cache metadata'),
])
def test_dump_refusals_name_the_value_and_write_nothing(run_module, tools, tmp_path, meta_dir, block_devices, case, params, message):
    path = put(tmp_path / 'cache.meta', metadata('cache', b'<superblock/>'))
    dest = {'directory': str(meta_dir), 'no directory': str(tmp_path / 'nowhere' / 'pool.xml')}.get(case, str(meta_dir / 'pool.xml'))
    if case == 'block':
        block_devices.add(put(dest, b''))
    with pytest.raises(Failed) as err:
        run_module('dmpd_dump', tools, path=path, dest=dest, **params)
    assert err.value.msg == message.format(meta_dir=meta_dir, tmp_path=tmp_path, path=path)
    assert tools.runs('cache_dump') == []
    assert os.listdir(str(meta_dir)) == (['pool.xml'] if case == 'block' else [])


def test_a_failing_dump_fails_naming_it_and_leaves_dest_as_it_was(run_module, tools, tmp_path, meta_dir):
    path = thin_file(tmp_path, content=DAMAGED)
    dest = put(meta_dir / 'pool.xml', b'<superblock/>', size=0)
    with pytest.raises(Failed) as err:
        run_module('dmpd_dump', tools, path=path, dest=dest)
    assert err.value.msg == 'thin_dump failed (rc=%d, error): bad checksum in btree node (block 6)' % tools.error_rc
    assert err.value.result['cmd'][-1] == path
    assert read(dest) == b'<superblock/>' and os.listdir(str(meta_dir)) == ['pool.xml']


def test_dump_options_reach_the_tool(run_module, tools, tmp_path, meta_dir):
    path = thin_file(tmp_path, content=DAMAGED + b'<superblock/>')
    result = run_module('dmpd_dump', tools, path=path, dest=str(meta_dir / 'p.txt'), repair=True, dev_id=1,
                        skip_mappings=True, format='human_readable')
    assert result['cmd'][:2] == ['/usr/sbin/thin_dump', '--dev-id']
    for option in ('--format', 'human_readable', '--repair', '--skip-mappings'):
        assert option in result['cmd']


def test_dump_of_live_metadata_needs_the_metadata_snapshot(run_module, tools, tmp_path, meta_dir, hold):
    path = thin_file(tmp_path)
    hold(path)
    dest = str(meta_dir / 'pool.xml')
    with pytest.raises(Failed) as err:
        run_module('dmpd_dump', tools, path=path, dest=dest)
    assert err.value.msg == ('path %s is in use by active device-mapper device(s) pool; reading live metadata needs a '
                             'metadata snapshot: reserve one with the pool message reserve_metadata_snap and set '
                             'metadata_snap=true' % path)
    assert tools.log == []
    result = run_module('dmpd_dump', tools, path=path, dest=dest, metadata_snap=True)
    assert '--metadata-snap' in result['cmd']


# -- dmpd_check ---------------------------------------------------------------------------
def test_a_healthy_check_reports_what_the_checker_printed(run_module, tools, tmp_path):
    path = thin_file(tmp_path)
    result = run_module('dmpd_check', tools, path=path)
    free = {'0.9.0': 1023, '1.1.0': 1013}[tools.version]
    assert (result['healthy'], result['family'], result['needs_check'], result['changed']) == (True, 'thin', False, False)
    assert (result['transaction_id'], result['metadata_free_blocks'], result['findings']) == (7, free, [])
    assert (result['rc'], result['cmd']) == (0, ['/usr/sbin/thin_check', path])


def test_damaged_metadata_fails_the_check_with_the_findings_unless_told_not_to(run_module, tools, tmp_path, captured):
    path = thin_file(tmp_path, content=DAMAGED)
    with pytest.raises(Failed) as err:
        run_module('dmpd_check', tools, path=path)
    findings = [line.strip() for line in captured(tools.version, 'thin_check_corrupted_tmeta')['stderr'].splitlines()
                if line.strip() and not line.startswith(('examining', 'Checking'))]
    assert err.value.msg == 'thin metadata at %s is damaged: %s' % (path, '; '.join(findings))
    assert err.value.result['healthy'] is False
    result = run_module('dmpd_check', tools, path=path, fail_on_error=False)
    assert (result['healthy'], result['rc'], result['findings']) == (False, tools.error_rc, findings)


def test_nothing_recognisable_is_a_failed_check_and_no_checker_runs(run_module, tools, tmp_path):
    path = put(tmp_path / 'zero.meta', b'\0' * 8192)
    with pytest.raises(Failed) as err:
        run_module('dmpd_check', tools, path=path)
    assert err.value.msg.startswith('%s: a zeroed superblock block: cannot tell the metadata family of %s' % (path, path))
    result = run_module('dmpd_check', tools, path=path, fail_on_error=False)
    assert (result['healthy'], result['family']) == (False, None)
    assert tools.runs() == []


def test_a_family_that_contradicts_the_superblock_is_a_finding(run_module, tools, tmp_path):
    path = thin_file(tmp_path)
    result = run_module('dmpd_check', tools, path=path, family='cache', fail_on_error=False)
    assert result['healthy'] is False and result['family'] == 'cache'
    assert result['findings'][0] == 'the superblock magic says thin metadata, not cache'


def test_clear_needs_check_flag_clears_it_and_says_changed_once(run_module, tools, tmp_path):
    path = thin_file(tmp_path, flags=1)
    result = run_module('dmpd_check', tools, diff=True, path=path, clear_needs_check_flag=True)
    assert (result['changed'], result['needs_check']) == (True, False)
    assert md.read_superblock(path).needs_check is False
    assert result['diff'] == dict(before=dict(needs_check=True, healthy=True), after=dict(needs_check=False, healthy=True))
    assert run_module('dmpd_check', tools, path=path, clear_needs_check_flag=True)['changed'] is False


def test_check_mode_runs_the_checker_without_the_options_that_write(run_module, tools, tmp_path):
    path = thin_file(tmp_path, flags=1)
    before = read(path)
    result = run_module('dmpd_check', tools, check_mode=True, path=path, clear_needs_check_flag=True)
    assert (result['changed'], result['needs_check'], result['healthy']) == (True, False, True)
    assert tools.runs('thin_check') == [['/usr/sbin/thin_check', path]]
    assert read(path) == before


def test_check_mode_predicts_no_flag_change_for_metadata_that_fails_the_check(run_module, tools, tmp_path):
    path = thin_file(tmp_path, flags=1, content=DAMAGED)
    real = run_module('dmpd_check', tools, path=path, clear_needs_check_flag=True, fail_on_error=False)
    assert (real['changed'], real['needs_check'], md.read_superblock(path).needs_check) == (False, True, True)
    predicted = run_module('dmpd_check', tools, check_mode=True, path=path, clear_needs_check_flag=True, fail_on_error=False)
    assert (predicted['changed'], predicted['needs_check']) == (False, True)


def test_check_mode_says_auto_repair_would_change_damaged_metadata(run_module, tools, tmp_path):
    path = thin_file(tmp_path, content=DAMAGED)
    before = read(path)
    result = run_module('dmpd_check', tools, check_mode=True, path=path, auto_repair=True, fail_on_error=False)
    assert (result['changed'], result['healthy']) == (True, False)
    assert read(path) == before
    repaired = run_module('dmpd_check', tools, path=path, auto_repair=True)
    assert (repaired['changed'], repaired['healthy']) == (True, True)
    assert '--auto-repair' in repaired['cmd']


@pytest.mark.parametrize('params,why', [
    (dict(clear_needs_check_flag=True), 'clear_needs_check_flag would write to it; metadata that an active device '
                                        'uses is never written; deactivate the device first'),
    (dict(clear_needs_check_flag=True, metadata_snap=True), 'clear_needs_check_flag would write to it; metadata that '
                                                            'an active device uses is never written'),
    (dict(), 'reading live metadata needs a metadata snapshot'),
])
def test_checking_metadata_in_use_is_refused_unless_read_through_its_snapshot(run_module, tools, tmp_path, hold, params, why):
    path = thin_file(tmp_path)
    hold(path)
    with pytest.raises(Failed) as err:
        run_module('dmpd_check', tools, path=path, **params)
    assert err.value.msg.startswith('path %s is in use by active device-mapper device(s) pool; %s' % (path, why))
    assert tools.log == []


def test_live_metadata_is_checked_through_its_snapshot(run_module, tools, tmp_path, hold):
    path = thin_file(tmp_path)
    hold(path)
    assert run_module('dmpd_check', tools, path=path, metadata_snap=True)['cmd'] == ['/usr/sbin/thin_check', '--metadata-snap', path]


@pytest.mark.parametrize('check_mode', [False, True])
@pytest.mark.parametrize('family,option,flag', [('cache', 'auto_repair', '--auto-repair'),
                                                ('era', 'ignore_non_fatal_errors', '--ignore-non-fatal-errors')])
def test_an_option_the_09_tools_lack_is_refused_naming_it_and_the_version(run_module, captured, tmp_path, check_mode, family, option, flag):
    path = put(tmp_path / 'm.meta', metadata(family, b'<superblock/>'))
    before = read(path)
    old = FakeTools('0.9.0', captured)
    with pytest.raises(Failed) as err:
        run_module('dmpd_check', old, check_mode=check_mode, path=path, **{option: True})
    assert err.value.msg == 'option %s (%s) of %s_check needs thin-provisioning-tools 1.x; this host has 0.9.0' % (option, flag, family)
    assert (err.value.result['option'], err.value.result['tool_version']) == (option, '0.9.0')
    assert old.runs() == [] and read(path) == before
    new = FakeTools('1.1.0', captured)
    result = run_module('dmpd_check', new, check_mode=check_mode, path=path, **{option: True})
    writes = option == 'auto_repair'
    assert result['healthy'] is True
    assert result['cmd'] == ['/usr/sbin/%s_check' % family] + ([] if writes and check_mode else [flag]) + [path]


def test_a_checker_that_did_not_run_the_check_fails_as_a_usage_error(run_module, captured, tmp_path):
    tools = FakeTools('1.1.0', captured)
    bad = captured('1.1.0', 'thin_check_bad_option')
    tools.answers['thin_check'] = (bad['rc'], bad['stdout'], bad['stderr'])
    path = thin_file(tmp_path)
    with pytest.raises(Failed) as err:
        run_module('dmpd_check', tools, path=path, fail_on_error=False)
    assert err.value.msg.startswith("/usr/sbin/thin_check did not run the check (rc=2, usage): error: unexpected argument "
                                    "'--no-such-option' found")
    assert err.value.result['rc'] == 2


# -- dmpd_info ----------------------------------------------------------------------------
def test_info_reports_the_tools_and_what_path_holds(run_module, tools, tmp_path):
    path = thin_file(tmp_path, flags=1)
    result = run_module('dmpd_info', tools, path=path)
    assert result == dict(changed=False, failed=False, tool_version=tools.version,
                          tool_generation={'0.9.0': '0.9', '1.1.0': '1'}[tools.version], family='thin', needs_check=True)
    assert tools.runs() == []


def test_info_lists_thin_devices_and_their_differences(run_module, tools, tmp_path):
    path = thin_file(tmp_path)
    result = run_module('dmpd_info', tools, path=path, thin_ls=True, thin_delta=dict(thin1=1, thin2=2))
    assert len(result['thin_ls']) == 11
    assert result['thin_ls'][0] == dict(dev=1, mapped_blocks=10713, exclusive_blocks=64, shared_blocks=10649,
                                        mapped_sectors=1371264, transaction=0, create_time=0, snap_time=15)
    assert result['thin_delta'] == dict(left=1, right=2, data_block_size=128, ranges=[
        dict(type='same', begin=0, length=4), dict(type='left_only', begin=10, length=2)])
    ls_argv, = tools.runs('thin_ls')
    assert ls_argv == ['/usr/sbin/thin_ls', '--format', 'DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS,MAPPED_SECTORS,'
                       'TRANSACTION,CREATE_TIME,SNAP_TIME', '--no-headers', path]
    assert tools.runs('thin_delta') == [['/usr/sbin/thin_delta', '--thin1', '1', '--thin2', '2', path]]


def test_info_estimates_metadata_sizes_in_bytes_and_sectors_on_both_generations(run_module, tools):
    thin = run_module('dmpd_info', tools, metadata_size=dict(family='thin', block_size='64KiB', pool_size='1G', max_thins=10))
    expected = {'0.9.0': 577536, '1.1.0': 581632}[tools.version]
    assert thin['metadata_size'] == dict(bytes=expected, sectors=expected // 512)
    assert tools.runs('thin_metadata_size') == [['/usr/sbin/thin_metadata_size', '--block-size', '128s', '--max-thins', '10',
                                                 '--numeric-only', '--pool-size', '2097152s', '--unit', 'b']]
    cache = run_module('dmpd_info', tools, metadata_size=dict(family='cache', nr_blocks=1000))
    assert cache['metadata_size'] == {'0.9.0': dict(bytes=8246 * 512, sectors=8246),
                                      '1.1.0': dict(bytes=4222306, sectors=8247)}[tools.version]
    by_device = run_module('dmpd_info', tools, metadata_size=dict(family='cache', block_size='64KiB', device_size='1G'))
    assert by_device['metadata_size'] == dict(bytes=9088 * 512, sectors=9088)
    assert tools.runs('cache_metadata_size')[-1] == ['/usr/sbin/cache_metadata_size', '--block-size', '128',
                                                     '--device-size', '2097152']


@pytest.mark.parametrize('params,message', [
    (dict(thin_ls=True), 'thin_ls and thin_delta need path, the thin metadata to read'),
    (dict(path='cache', thin_delta=dict(thin1=1, thin2=2)), 'thin_ls and thin_delta read thin metadata; {path} holds cache metadata'),
    (dict(path='thin', thin_ls=True, thin_ls_fields=['dev', 'colour']), 'thin_ls_fields: COLOUR not known; expected some of DEV, '),
    (dict(metadata_size=dict(family='thin', block_size=128)), 'metadata_size for thin metadata needs pool_size, max_thins'),
    (dict(metadata_size=dict(family='cache', block_size=128)), 'metadata_size for cache metadata needs device_size'),
    (dict(metadata_size=dict(family='thin', block_size=100, pool_size='1G', max_thins=1)),
     "block_size 100 is 100 sectors; a thin pool block is a multiple of 128 sectors (64 KiB) from 128 to 2097152 (1 GiB)"),
    (dict(metadata_size=dict(family='thin', block_size='junk', pool_size='1G', max_thins=1)), "block_size: 'junk' is not a size"),
])
def test_info_refusals_name_what_is_wrong_and_run_no_tool(run_module, tools, tmp_path, params, message):
    paths = dict(thin=thin_file(tmp_path), cache=put(tmp_path / 'cache.meta', metadata('cache', b'<superblock/>')))
    params = dict(params)
    if 'path' in params:
        params['path'] = paths[params['path']]
    with pytest.raises(Failed) as err:
        run_module('dmpd_info', tools, **params)
    assert err.value.msg.startswith(message.format(path=params.get('path')))
    assert tools.runs() == []


def test_info_on_metadata_in_use_reads_only_through_the_snapshot(run_module, tools, tmp_path, hold):
    path = thin_file(tmp_path)
    hold(path)
    with pytest.raises(Failed, match='reading live metadata needs a metadata snapshot'):
        run_module('dmpd_info', tools, path=path, thin_ls=True)
    assert tools.runs() == []
    run_module('dmpd_info', tools, path=path, thin_ls=True, metadata_snap=True)
    assert '--metadata-snap' in tools.runs('thin_ls')[0]


# -- dmpd_trim ----------------------------------------------------------------------------
@pytest.fixture
def pool_devices(tmp_path, block_devices):
    meta = thin_file(tmp_path)
    data = put(tmp_path / 'data.img', b'', size=MIB)
    block_devices.add(data)
    return meta, data


def test_trim_discards_with_thin_trim_and_says_changed(run_module, tools, pool_devices):
    meta, data = pool_devices
    result = run_module('dmpd_trim', tools, metadata_dev=meta, data_dev=data)
    assert (result['changed'], result['metadata_dev'], result['data_dev']) == (True, meta, data)
    assert tools.runs() == [['/usr/sbin/thin_trim', '--data-dev', data, '--metadata-dev', meta]] == [result['cmd']]


def test_trim_in_check_mode_runs_nothing_and_returns_the_command(run_module, tools, pool_devices):
    meta, data = pool_devices
    result = run_module('dmpd_trim', tools, check_mode=True, metadata_dev=meta, data_dev=data)
    assert result['changed'] is True and result['cmd'] == ['/usr/sbin/thin_trim', '--data-dev', data, '--metadata-dev', meta]
    assert tools.runs() == []


def test_a_failing_trim_fails_naming_it(run_module, tools, pool_devices):
    tools.answers['thin_trim'] = tools.failure('discard failed: Operation not supported\n')
    with pytest.raises(Failed) as err:
        run_module('dmpd_trim', tools, metadata_dev=pool_devices[0], data_dev=pool_devices[1])
    assert err.value.msg == 'thin_trim failed (rc=%d, error): discard failed: Operation not supported' % tools.error_rc


@pytest.mark.parametrize('case,message', [
    ('data is a file', 'data_dev {data} is a regular file; thin_trim discards blocks of a block device (attach the file '
                       'to a loop device)'),
    ('not thin', 'metadata_dev {meta} holds cache metadata; thin_trim needs thin pool metadata'),
    ('held', 'metadata_dev {meta} is in use by active device-mapper device(s) pool; thin_trim needs the pool deactivated'),
])
def test_trim_refusals_run_nothing(run_module, tools, tmp_path, pool_devices, block_devices, hold, case, message):
    meta, data = pool_devices
    if case == 'data is a file':
        block_devices.discard(data)
    elif case == 'not thin':
        put(meta, metadata('cache', b'<superblock/>'))
    else:
        hold(meta)
    with pytest.raises(Failed) as err:
        run_module('dmpd_trim', tools, check_mode=False, metadata_dev=meta, data_dev=data)
    assert err.value.msg == message.format(meta=meta, data=data)
    assert tools.log == []


def _dead_pid():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize('name', ['dmpd_restore', 'dmpd_dump'])
def test_a_file_a_killed_run_left_beside_dest_is_removed_and_said(run_module, tools, tmp_path, meta_dir, name):
    """A SIGKILLed restore (or dump) leaves its .DEST.sts-dm-PID.tmp beside dest; the next run removes
    it (its pid is gone) and warns; a file of a run still going, and other files, stay."""
    dead, alive = _dead_pid(), os.getppid()
    dest = str(meta_dir / ('pool.meta' if name == 'dmpd_restore' else 'pool.xml'))
    stale = str(meta_dir / ('.%s.sts-dm-%d.tmp' % (os.path.basename(dest), dead)))
    going = str(meta_dir / ('.%s.sts-dm-%d.tmp' % (os.path.basename(dest), alive)))
    other = str(meta_dir / ('.other.sts-dm-%d.tmp' % dead))
    for path in (stale, going, other):
        with open(path, 'wb') as handle:
            handle.write(b'x' * 4096)
    if name == 'dmpd_restore':
        result = run_module(name, tools, src=xml_dump(tmp_path), dest=dest)
    else:
        src = str(meta_dir / 'pool.meta')
        run_module('dmpd_restore', tools, src=xml_dump(tmp_path), dest=src)
        result = run_module(name, tools, path=src, dest=dest)
    assert not os.path.exists(stale) and os.path.exists(going) and os.path.exists(other)
    assert result['warnings'] == ['removed %s, left beside %s by an earlier run of this collection that was killed '
                                  '(pid %d)' % (stale, dest, dead)], result.get('warnings')


def test_check_mode_leaves_what_a_killed_run_left(run_module, tools, tmp_path, meta_dir):
    dest = str(meta_dir / 'pool.meta')
    stale = str(meta_dir / ('.pool.meta.sts-dm-%d.tmp' % _dead_pid()))
    open(stale, 'wb').close()
    result = run_module('dmpd_restore', tools, check_mode=True, src=xml_dump(tmp_path), dest=dest)
    assert os.path.exists(stale) and 'warnings' not in result
