"""The Ray engine (`--engine ray`): the only part of the package that imports Ray. See driver.py."""
