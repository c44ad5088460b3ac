import pytest

from argv_check import assert_argv
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import (
    TOOLS, DmpdError, ToolVersion, build_argv, outcome, tool_for)

V09 = ToolVersion('0.9.0')
V1 = ToolVersion('1.1.0')


def test_the_table_holds_every_tool_of_the_seed_and_no_other():
    seed = set()
    for family, verbs in (('thin', 'check dump restore repair metadata_size trim ls delta'),
                          ('cache', 'check dump restore repair metadata_size'),
                          ('era', 'check dump restore repair invalidate')):
        seed.update('%s_%s' % (family, verb) for verb in verbs.split())
    assert set(TOOLS) == seed


def test_a_tool_a_family_lacks_is_refused_naming_what_it_has():
    with pytest.raises(DmpdError, match=r'no trim tool for era metadata; era metadata has: era_check, era_dump, '
                                        r'era_invalidate, era_repair, era_restore'):
        tool_for('era', 'trim')


@pytest.mark.parametrize('version', ['0.9.0', '1.1.0'])
def test_version_is_read_from_captured_output(captured, version):
    parsed = ToolVersion(captured(version, 'thin_version')['stdout'])
    assert str(parsed) == version
    assert parsed.generation == ('0.9' if version == '0.9.0' else '1')


def test_unreadable_version_fails_naming_it():
    with pytest.raises(DmpdError, match="cannot read a thin-provisioning-tools version from 'garbage'"):
        ToolVersion('garbage')


def test_bool_options_are_bare_flags_and_input_comes_last():
    argv = build_argv('thin_check', V09, dict(input='/dev/vdb', skip_mappings=True, quiet=False,
                                              clear_needs_check_flag=True))
    assert argv == ['--clear-needs-check-flag', '--skip-mappings', '/dev/vdb']


def test_values_are_separate_argv_elements():
    argv = build_argv('thin_restore', V1, dict(input='/tmp/a b.xml', output='/dev/vdc', transaction_id=5))
    assert argv == ['--input', '/tmp/a b.xml', '--output', '/dev/vdc', '--transaction-id', '5']


def test_optional_value_uses_the_equals_form_both_generations_take():
    assert build_argv('thin_dump', V09, dict(input='m', metadata_snap=True)) == ['--metadata-snap', 'm']
    assert build_argv('thin_dump', V1, dict(input='m', metadata_snap=42)) == ['--metadata-snap=42', 'm']


@pytest.mark.parametrize('tool,option', [
    ('cache_check', 'auto_repair'), ('cache_check', 'ignore_non_fatal_errors'),
    ('era_check', 'ignore_non_fatal_errors'), ('thin_dump', 'transaction_id'),
    ('thin_check', 'override_details_root'),
])
def test_option_missing_from_09_names_option_tool_and_version(tool, option):
    value = 1 if TOOLS[tool].options[option].kind == 'int' else True
    with pytest.raises(DmpdError) as err:
        build_argv(tool, V09, {option: value, 'input': 'x'})
    assert '%s (%s) of %s needs thin-provisioning-tools 1.x; this host has 0.9.0' % (
        option, TOOLS[tool].options[option].flag, tool) in err.value.msg
    assert build_argv(tool, V1, {option: value, 'input': 'x'})[-1] == 'x'


def test_era_repair_exists_only_in_1x():
    with pytest.raises(DmpdError, match='era_repair is not available in thin-provisioning-tools 0.9.0'):
        build_argv('era_repair', V09, dict(input='a', output='b'))
    assert build_argv('era_repair', V1, dict(input='a', output='b')) == ['--input', 'a', '--output', 'b']


def test_unknown_option_lists_what_the_tool_takes():
    with pytest.raises(DmpdError, match="era_check has no option 'skip_mappings'; it takes: .*super_block_only"):
        build_argv('era_check', V1, dict(skip_mappings=True))


@pytest.mark.parametrize('options,message', [
    (dict(dev_id=-1), 'not a whole number >= 0'),
    (dict(dev_id=True), 'not a whole number >= 0'),
    (dict(format='custom'), "'custom' is not one of xml, human_readable"),
    (dict(repair='yes'), 'is a switch'),
])
def test_bad_values_are_refused(options, message):
    with pytest.raises(DmpdError, match=message):
        build_argv('thin_dump', V1, options)


def test_unknown_family_verb():
    with pytest.raises(DmpdError, match='there is no trim tool for cache metadata'):
        tool_for('cache', 'trim')


@pytest.mark.parametrize('version,name,expected', [
    ('0.9.0', 'thin_check_ok', 'ok'), ('1.1.0', 'thin_check_ok', 'ok'),
    ('0.9.0', 'thin_check_corrupted_snap', 'error'), ('1.1.0', 'thin_check_corrupted_snap', 'error'),
    ('0.9.0', 'thin_check_missing', 'error'), ('1.1.0', 'thin_check_missing', 'error'),
    ('0.9.0', 'thin_check_bad_option', 'error'), ('1.1.0', 'thin_check_bad_option', 'usage'),
])
def test_exit_codes_mean_what_each_generation_says(captured, version, name, expected):
    assert outcome(ToolVersion(version), captured(version, name)['rc']) == expected


def test_unexpected_exit_code():
    assert outcome(V1, 1) == 'unexpected'
    assert outcome(V09, 64) == 'unexpected'


class FakeModule(object):
    """Stands in for AnsibleModule: records argv, answers -V with a captured version."""

    def __init__(self, version_out, binaries):
        self.version_out = version_out
        self.binaries = binaries
        self.calls = []

    def get_bin_path(self, name, opt_dirs=None):
        return '/usr/sbin/' + name if name in self.binaries else None

    def run_command(self, cmd, data=None, binary_data=False):
        self.calls.append(assert_argv(cmd))
        return (0, self.version_out, '') if cmd[-1] == '-V' else (0, '', '')


def test_version_is_asked_once_per_run(captured):
    from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import Dmpd
    module = FakeModule(captured('1.1.0', 'thin_version')['stdout'], ['thin_check', 'thin_dump'])
    dmpd = Dmpd(module)
    dmpd.run('thin_check', input='m')
    dmpd.run('thin_dump', input='m', output='o')
    assert module.calls == [['/usr/sbin/thin_check', '-V'], ['/usr/sbin/thin_check', 'm'],
                            ['/usr/sbin/thin_dump', '-o', 'o', 'm']]


def test_tools_reachable_only_through_pdata_tools(captured):
    from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import Dmpd
    module = FakeModule(captured('1.1.0', 'thin_version')['stdout'], ['thin_check', 'pdata_tools'])
    assert Dmpd(module).argv('era_repair', input='a', output='b') == [
        '/usr/sbin/pdata_tools', 'era_repair', '--input', 'a', '--output', 'b']


def test_missing_tools_say_what_to_install():
    from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import Dmpd
    with pytest.raises(DmpdError, match='thin_check is not installed on this host: install thin-provisioning-tools'):
        Dmpd(FakeModule('', [])).version


@pytest.mark.parametrize('version', ['0.9.0', '1.1.0'])
def test_era_invalidate_argv_is_what_each_generation_ran(captured, version):
    cap = captured(version, 'era_invalidate_since_2')
    options = dict(written_since=2, input=cap['argv'][-1])
    assert build_argv('era_invalidate', ToolVersion(version), options) == cap['argv'][1:]


def test_era_invalidate_metadata_snapshot_per_generation():
    options = dict(written_since=3, metadata_snapshot=1234, output='/tmp/inv.xml', input='/dev/vdb')
    # 0.9 refuses a value ("doesn't allow an argument") and reads the held root itself
    assert build_argv('era_invalidate', V09, options) == [
        '--metadata-snapshot', '-o', '/tmp/inv.xml', '--written-since', '3', '/dev/vdb']
    assert build_argv('era_invalidate', V09, dict(options, metadata_snapshot=True))[0] == '--metadata-snapshot'
    # 1.x requires the value
    assert build_argv('era_invalidate', V1, options) == [
        '--metadata-snapshot=1234', '-o', '/tmp/inv.xml', '--written-since', '3', '/dev/vdb']


def test_era_invalidate_metadata_snapshot_on_1x_needs_the_root():
    with pytest.raises(DmpdError, match=r'metadata_snapshot \(--metadata-snapshot\) of era_invalidate needs the '
                                        r'held metadata root on thin-provisioning-tools 1.1.0'):
        build_argv('era_invalidate', V1, dict(written_since=3, metadata_snapshot=True, input='m'))


@pytest.mark.parametrize('version', [V09, V1])
@pytest.mark.parametrize('options', [dict(metadata_snapshot=-1), dict(metadata_snapshot='12'), dict(written_since=-2)])
def test_era_invalidate_bad_numbers(version, options):
    with pytest.raises(DmpdError, match='of era_invalidate: .* is not a whole number >= 0'):
        build_argv('era_invalidate', version, dict(options, input='m'))


@pytest.mark.parametrize('version', ['0.9.0', '1.1.0'])
def test_era_invalidate_metadata_snapshot_argv_matches_the_capture(captured, version):
    cap = captured(version, 'era_invalidate_no_snapshot')
    options = dict(written_since=2, metadata_snapshot=0 if version == '1.1.0' else True, input=cap['argv'][-1])
    ran = ' '.join(cap['argv'][1:]).replace('--metadata-snapshot 0', '--metadata-snapshot=0')
    assert sorted(build_argv('era_invalidate', ToolVersion(version), options)) == sorted(ran.split(' '))
    assert outcome(ToolVersion(version), cap['rc']) == 'error'


@pytest.mark.parametrize('version', ['0.9.0', '1.1.0'])
@pytest.mark.parametrize('name', ['era_dump', 'era_dump_logical'])
def test_era_dump_argv_is_what_each_generation_ran(captured, version, name):
    cap = captured(version, name)
    options = dict(input=cap['argv'][-1], logical=name.endswith('logical'))
    assert build_argv('era_dump', ToolVersion(version), options) == cap['argv'][1:]


@pytest.mark.parametrize('version', [V09, V1])
def test_era_dump_repair_to_a_file(version):
    assert build_argv('era_dump', version, dict(input='/dev/vdb', output='/tmp/e.xml', repair=True, logical=True)) == [
        '--logical', '-o', '/tmp/e.xml', '--repair', '/dev/vdb']
