# nbval must not execute the Chinese notebooks: their code cells and outputs are the English notebooks', which
# nbval already runs. tests/test_zh.py proves the copies are identical and executes one of them.
collect_ignore_glob = ["*.ipynb"]
