# nbval must not execute the student notebooks: their check cells are meant to fail until a student
# fills in the code. tests/test_exercises.py proves that every check fails on them, and nbval runs the
# solution notebooks in ../solutions/ instead.
collect_ignore_glob = ["*.ipynb"]
