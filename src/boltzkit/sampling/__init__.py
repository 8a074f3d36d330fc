"""boltzkit.sampling"""
