"""网上党校: courses, lessons, progress, quizzes, credits."""
