"""boltzkit.synthetic"""
