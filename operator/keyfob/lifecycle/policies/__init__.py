"""The lifecycle's decisions as small pure policies over one gathered input (keyfob.lifecycle.inputs.Inputs).

Like cert-manager's "should we reissue?" chain: each policy looks at one thing and returns a Verdict (a
reason and a message) or None; a chain runs them in order and the first verdict wins. No policy calls
anything: every fact it needs is in its arguments, so each has a table test (tests/unit/test_policies_*.py).
"""
