"""boltzkit.cli"""
