print("Hello, bakeoff!")
