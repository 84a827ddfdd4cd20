// The program that gives the tests' precompiled header (cmake/TollgateTesting.cmake).
int main() { return 0; }
