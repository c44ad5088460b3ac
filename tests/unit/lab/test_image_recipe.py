"""lab/image.py: a distro's own packages in the recipe go into that distro's image only."""

import os
import sys

LAB = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'lab')
sys.path.insert(0, LAB)

import image  # noqa: E402 pylint: disable=wrong-import-position


def test_a_distro_s_own_packages_follow_the_common_ones():
    recipe = image.load_recipe()
    assert image.packages_of(recipe, 'debian13') == recipe['packages'] + ['vdo']
    assert image.packages_of(recipe, 'debian12') == recipe['packages']


def test_a_distro_s_own_packages_change_that_distro_s_key_only():
    recipe = image.load_recipe()
    other = dict(recipe, distros=dict(recipe['distros'], debian13=dict(recipe['distros']['debian13'], packages=[])))
    assert image.recipe_key('debian13', other) != image.recipe_key('debian13', recipe)
    assert image.recipe_key('debian12', other) == image.recipe_key('debian12', recipe)
