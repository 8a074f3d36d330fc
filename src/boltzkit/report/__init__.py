"""boltzkit.report"""
