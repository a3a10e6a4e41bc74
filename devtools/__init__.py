"""Development tools the demo and the tests share (simulated devices such as the 4G modem on a
pty, :mod:`devtools.modemsim`); not used by the daemon."""
