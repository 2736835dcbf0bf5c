"""Bridges to other tools' result formats (results that did not come from this workflow).

* :mod:`.comparator_json`: the upstream Unlearning Comparator's result JSON files → tables.
"""
