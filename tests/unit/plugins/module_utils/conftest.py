import json
import os

import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'dmpd')
GENERATIONS = ('0.9.0', '1.1.0')


@pytest.fixture
def captured():
    """Load a capture of the real tools: captured('1.1.0', 'thin_ls') -> {argv, rc, stdout, stderr}."""
    def load(version, name):
        with open(os.path.join(FIXTURES, version, name + '.json')) as handle:
            return json.load(handle)
    return load
