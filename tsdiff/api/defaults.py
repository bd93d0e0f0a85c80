"""The training defaults the pandas models share, in a module light enough for the command line's ``--help``
(the models' signatures use these; tests/test_api_conventions.py checks that the README states them)."""

EPOCHS = 20
NUM_BATCHES_PER_EPOCH = 50
LEARNING_RATE = 1e-3
SEED = 0
