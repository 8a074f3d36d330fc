"""boltzkit.training"""
