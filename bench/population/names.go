package population

// Names mix plain ASCII with diacritics and repeat often enough that
// duplicate display names occur, as in any real company.
var givenNames = []string{
	"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
	"José", "María", "Zoë", "Chloé", "Łukasz", "Søren", "François", "Renée", "Björn", "Ólafur",
	"Ana", "Luis", "Wei", "Mei", "Hiroshi", "Yuki", "Aisha", "Omar", "Priya", "Arjun",
	"Emma", "Noah", "Olivia", "Liam", "Sofía", "Mateo", "Anaïs", "Jürgen", "Ingrid", "Dag",
}

var surnames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Müller", "Schröder", "Núñez", "Gonçalves", "Østergaard", "Dvořák", "Kowalczyk", "Lefèvre", "Ibáñez", "Šimić",
	"Chen", "Wang", "Tanaka", "Sato", "Khan", "Patel", "Singh", "Kim", "Nguyen", "O'Brien",
	"Van der Berg", "De la Cruz", "Andersson", "Nilsson", "Rossi", "Bianchi", "Dubois", "Moreau", "Fischer", "Weber",
}

var departments = []string{
	"Engineering", "Sales", "Marketing", "Finance", "Human Resources", "Legal",
	"Operations", "Support", "Product", "Research", "IT", "Facilities",
}

var titles = []string{"Associate", "Specialist", "Senior Specialist", "Lead", "Manager", "Director"}

var countries = []string{"US", "US", "US", "GB", "DE", "FR", "ES", "NL", "SE", "PL", "IN", "JP", "BR"}
