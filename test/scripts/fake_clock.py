"""A clock for the programs' waiting loops: sleep() advances it at once, calling it reads it."""


class Clock:
    def __init__(self):
        self.now = 0.0

    def sleep(self, s):
        self.now += s

    def __call__(self):
        return self.now
