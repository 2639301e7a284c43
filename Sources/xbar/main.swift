print("xbar")
