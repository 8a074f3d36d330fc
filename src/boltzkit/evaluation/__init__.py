"""boltzkit.evaluation"""
